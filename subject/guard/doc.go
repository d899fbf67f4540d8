// Package guard puts guard rails around any [subject.Subject]: approval,
// blast radius, a stability gate and a journal. A [Guard] wraps a Subject
// and is one, so an operator loop, an example or an AI agent's tool server
// acts through it without knowing it is there.
//
// Every action passes, in this order:
//
//  1. The kill switch and the mode. [ModeObserveOnly] (the zero value)
//     refuses every action; [ModeDryRun] answers every action as a dry run;
//     [ModeApproveEach] asks [Config.Approver]; [ModeAutomatic] approves by
//     itself. A call whose context was made by [subject.WithDryRun] is a dry
//     run in every mode but observe-only.
//  2. The blast radius, for disruptive actions ([Config.Disruptive]; by
//     default drain_store, evict_leaders, prepare_restart, split_region
//     and transfer_leader): at most one in flight, counted from the request to
//     the end of the call, approval included; no store other than the
//     action's own with its leaders evicted, by anyone, the cluster's own
//     automation included (see [EvictionReporter]); no earlier action
//     whose outcome is unknown ([Guard.Pending]); for an action that takes
//     the maintenance lock, no other task holding it.
//  3. Cooldowns per action and per target ([Config.Cooldowns]) and a rate
//     limit ([Config.Rate], a golang.org/x/time/rate limiter read at the
//     injected clock).
//  4. The stability gate, for disruptive actions: the subject's own
//     [subject.StabilityChecker] when it has one, otherwise every store but
//     the action's own must be Up ([Guard.CheckStable]).
//  5. A dry run of the same action (the subject called with
//     [subject.WithDryRun]): what would happen, or the subject's refusal.
//  6. Approval, with the dry run's result in the [Request], within
//     [Config.ApprovalTimeout].
//  7. For a disruptive action, the blast radius and the stability gate
//     again, still holding the blast radius: the cluster may have changed
//     while the approver decided.
//  8. Leadership, when [Config.Leadership] is set: this replica must lead
//     its operator's replicas, confirmed immediately before submission
//     (see [Leadership]); then, for drain_store, evict_leaders and
//     prepare_restart, the cluster's maintenance lock, shared with every
//     other tool (tiup, TiDB Operator), when the subject offers one (see
//     [MaintenanceLock]).
//  9. The call itself, with the caller's context: a progress function
//     the caller put there ([subject.WithProgress]) gets the action's
//     progress. The dry run of step 5 reports none
//     ([subject.ReportProgress] drops it), so what the caller sees is the
//     real call's.
//
// Steps 2 to 4, 6 and 7 apply only to actions that will be submitted: a dry
// run passes the kill switch and the mode, then goes to the subject.
//
// A subject's actions beyond [subject.Actor] pass the same steps through
// [Guard.Do]: those of [Config.Extra], and the action tools of a subject
// that is a [tools.Provider] (tikv's prepare_restart and
// finish_restart), which the guard serves as its own [Guard.Tools], so a
// [tools.Dispatcher] built on the guard calls them through its rules.
//
// The blast radius is one guard's: give each cluster one guard and let
// every actor share it. What the guard reads from the cluster (the
// stability gate, an [EvictionReporter]) also sees what others did.
//
// An action that ended unconfirmed stays pending; call [Guard.Recheck]
// once the cluster had time to settle, or [Guard.Resolve] after looking.
//
// # Errors
//
// Whatever the guard refuses, it refuses before anything is sent, with a
// *[subject.ActionError] in [subject.PhaseRefused]. Its own refusals match
// [subject.ErrNotApproved] and a sentinel of this package naming the rule
// ([ErrObserveOnly], [ErrKilled], [ErrBusy], [ErrUnresolved], [ErrCooldown],
// [ErrRateLimited], [ErrJournal], [ErrApprovalExpired], [ErrNotLeader],
// [ErrMaintenanceLock]); a refusal by the approver matches
// subject.ErrNotApproved alone; the stability gate's matches
// [subject.ErrPrecondition]. A refusal by the subject's dry run is the
// subject's own error, wrapped in an ActionError when it is not one. Once
// submitted, the action's error is the subject's ActionError, unchanged;
// any other error is wrapped in one whose Phase says how the guard reads
// it: refused when it matches a refusal sentinel, failed when it matches
// [subject.ErrActionFailed], and otherwise unconfirmed (an error after the
// request was sent says nothing about whether it was applied).
//
// A record the journal could not write is never only a log line: it is a
// *[JournalError] in the caller's error. Before submission the action is
// refused ([ErrJournal]); after it, the error is a copy of the action's
// ActionError, of the same phase, that carries the JournalError too, and
// an action that was confirmed returns a nil error, as it was done, with
// the JournalError's text in its result's [subject.Result.Warnings].
//
// # Journal
//
// Every decision is a [Record]: requested, refused (and why), approved (and
// by whom), submitted, and how it ended: confirmed, failed, unconfirmed, or
// dry_run. Records go to [Config.Logger] and, as JSON lines, to
// [Config.Journal]. The submitted record is written before the request is
// sent, so a journal that ends with it after a crash names an action that
// may have been applied. [OpenFileJournal] keeps the journal in a file as
// a crash needs it kept: each record synced before the action it announces
// is sent, a torn last line cut off on open, and one writer at a time (a
// second process opening it fails at once, naming the holder). [Guard.Replay] reads such a journal back on
// restart and checks every such action against the cluster (see
// [Guard.Recheck]) before the guard lets any disruptive action through:
// by default it runs the same call again as a dry run, and an answer with
// [subject.Result.NoChange] set ("nothing to do") confirms it was applied
// ([DefaultConfirm]); [Config.Confirm] overrides that.
package guard

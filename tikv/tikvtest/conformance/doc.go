// Package conformance holds no code, only a test suite: the same scenarios
// run against tikvtest (the simulated cluster users import) and against a
// real PD (internal/realpd: three pd-server members and pd-simulator's
// five stores and 200 regions), and must give the same outcome on both.
// Where the two differed, tikvtest was wrong, and was fixed.
//
// An outcome is what one of tikv.Subject's actions returns (confirmed, no
// change, refused with which subject sentinel, failed with which PD
// operator status, unconfirmed and with which status), or what tikv's
// PD-based invariants find (which keys violated, which unknown, or which
// error's sentinel), or, for a fault watched over time, whether the
// invariants raised a false alarm and which errors their checks met.
// Each scenario is written once as a list of steps and runs on both
// backends (TestConformance: scenarios x backends; run it with -v for the
// table of every step's outcome on each). It covers every action
// (TransferLeader, SplitRegion, DrainStore, UndrainStore, EvictLeaders,
// RestoreLeaders, SetScheduleLimit, SetLowSpaceThreshold, PrepareRestart,
// FinishRestart, ReconcileEvictions) and the invariants store_health,
// pd_low_space, region_peers and leader_imbalance (the metric ones need a
// Prometheus scraping TiKV, which pd-simulator's stores are not).
//
// It is a package of its own, not tikvtest's tests, because it runs one
// real PD cluster shared by the scenarios, started by the first real-PD
// scenario and stopped by TestMain: tikvtest's unit tests stay fast, and
// the real-PD part can be run and timed alone. Each real scenario leaves
// the cluster as it found it (realCluster.reset). One scenario starts a
// cluster of its own, to watch it being born. Without KVOPS_REALPD_DIR
// the real-PD half skips (fails with CI=true) and the tikvtest half still
// runs. The real-PD half takes about two and a half minutes: 20 s to
// start the cluster, a minute for a split PD times out, half a minute of
// stopped stores, 20 s of PD election and 20 s for the cluster being born.
//
// Splits: pd-simulator never carries out a split operator (its task.go:
// "split region scheduling is currently not supported"), so on the real PD
// a split stays RUNNING until PD ends it TIMEOUT after a minute, and the
// region never changes. The suite therefore runs tikvtest with
// tikvtest.Config.NoSplits, which mirrors that, and compares what a split does
// when it does not happen: refused as before, unconfirmed when the
// action's bound ends first (the pending operator cancelled), failed
// CANCEL when someone else cancels it, failed TIMEOUT when PD gives up. A
// split that succeeds is tested on tikvtest alone (tikv's own tests): there
// is nothing real to compare it with here.
//
// Not compared live: PD cancelling an operator when its region's
// membership changes under it (tikvtest models it from PD's source,
// checkStaleOperator): PD allows one operator per region and its checkers
// wait for it, so nothing in PD with pd-simulator changes a region's
// membership while an admin operator holds it. And the errors a real PD
// answers before it is bootstrapped, which tikvtest does not model: the
// scenario of a cluster being born compares only that nothing fires.
//
// TestRecord, run with KVOPS_REALPD_RECORD set to a folder, records the
// real PD's answers that tikvtest's testdata/realpd holds.
package conformance

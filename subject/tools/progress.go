package tools

import (
	"math"

	"github.com/kvops/operator/subject"
)

// ProgressNotification is the content of one MCP progress notification
// (notifications/progress) about a tool call: the fields of the MCP Go
// SDK's mcp.ProgressNotificationParams other than the progress token,
// which the server takes from the call (req.Params.GetProgressToken()).
// This package does not import the SDK; a server copies the three fields.
type ProgressNotification struct {
	// Progress is the seconds since the action started. It increases with
	// every notification, as MCP requires.
	Progress float64
	// Total is the seconds from the action's start to the end of the bound
	// of the wait under way: the latest it gives up, as far as it knows
	// now (an action that waits again later, such as finish_restart,
	// raises it). Never below Progress.
	Total float64
	// Message is the progress on one line ([subject.Progress.String]):
	// what the action waits for, what its last read showed, what is left.
	Message string
}

// MCPProgress returns a progress function, for [subject.WithProgress],
// that turns the progress of one tool call into MCP progress
// notifications and hands each to send, which an MCP server sends with
// the call's progress token. Use one per call.
//
// MCP requires a notification's progress to increase with each
// notification, and counts of what is left do not (a scheduler can bring
// leaders back; a drain's regions are not what it waits for), so the
// progress is the time the action has run against its bound, which is
// also what bounds the call; the counts are in the message. A report
// whose time did not advance (a clock that stood still) is sent just
// above the one before. Notifications come one per read of the wait
// (Config.Actions.PollInterval apart for package tikv), which is the rate
// limit MCP asks for.
func MCPProgress(send func(ProgressNotification)) func(subject.Progress) {
	last := math.Inf(-1)
	return func(p subject.Progress) {
		v := p.Elapsed.Seconds()
		if v <= last {
			v = math.Nextafter(last, math.Inf(1))
		}
		last = v
		send(ProgressNotification{
			Progress: v,
			Total:    max((p.Elapsed - p.Waited + p.Bound).Seconds(), v),
			Message:  p.String(),
		})
	}
}

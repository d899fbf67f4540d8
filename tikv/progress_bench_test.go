package tikv_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// BenchmarkTransferLeaderProgress measures leader transfers on the
// simulated cluster (each waits over two reads, on loopback HTTP) with and
// without a progress function, in the same run: what reporting adds to an
// action beside its requests.
func BenchmarkTransferLeaderProgress(b *testing.B) {
	for _, tt := range []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{"none", func(ctx context.Context) context.Context { return ctx }},
		{"progress", func(ctx context.Context) context.Context {
			return subject.WithProgress(ctx, func(p subject.Progress) { _ = p.String() })
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			cl := tikvtest.NewCluster(b, tikvtest.Config{Stores: 5, Regions: 60, Clock: &fixedClock{t: start}, Seed: 1})
			cl.Advance(time.Second)
			sub, err := tikv.New(tikv.Config{
				PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, DisableMetrics: true, Clock: cl.Now,
				Actions: tikv.ActionConfig{PollInterval: time.Second},
				Sleep: func(ctx context.Context, d time.Duration) error {
					cl.Advance(d)
					return ctx.Err()
				},
			})
			require.NoError(b, err)
			b.Cleanup(func() { _ = sub.Close() })
			reg, err := sub.Region(b.Context(), region9)
			require.NoError(b, err)
			ctx := tt.ctx(b.Context())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := sub.TransferLeader(ctx, region9, reg.Peers[i%len(reg.Peers)].Store); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

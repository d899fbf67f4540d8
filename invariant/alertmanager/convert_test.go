package alertmanager_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
	"github.com/kvops/operator/promclient/rules"
)

// TestAnnotationPrefixIsRules': the prefix is spelled out so that this
// package does not link promclient/rules; it must stay the same.
func TestAnnotationPrefixIsRules(t *testing.T) {
	require.Equal(t, rules.AnnotationPrefix, alertmanager.AnnotationPrefix)
}

// TestLabelsAndAnnotations checks what Alertmanager gets for an alert:
// the table is the package documentation's "Labels and annotations".
func TestLabelsAndAnnotations(t *testing.T) {
	base := invariant.Alert{
		Invariant: "disk_full", Key: "store=1", State: invariant.StateFiring, Severity: invariant.SeverityCritical,
		Message: "disk 97% full", FiredAt: t0, FirstSeen: t0, LastSeen: t0,
	}
	with := func(labels map[string]string, edit ...func(*invariant.Alert)) invariant.Alert {
		a := base
		a.Labels = labels
		for _, e := range edit {
			e(&a)
		}
		return a
	}
	for _, tt := range []struct {
		name        string
		alert       invariant.Alert
		external    map[string]string
		labels      map[string]string
		annotations map[string]string
	}{{
		name:        "plain invariant",
		alert:       with(map[string]string{"store": "1"}),
		labels:      map[string]string{"alertname": "disk_full", "severity": "critical", "key": "store=1", "store": "1"},
		annotations: map[string]string{"summary": "disk 97% full"},
	}, {
		name:        "no key, no message",
		alert:       with(nil, func(a *invariant.Alert) { a.Key, a.Message = "", "" }),
		labels:      map[string]string{"alertname": "disk_full", "severity": "critical"},
		annotations: map[string]string{},
	}, {
		name:        "the finding's own severity and key win",
		alert:       with(map[string]string{"severity": "page", "key": "mine"}),
		labels:      map[string]string{"alertname": "disk_full", "severity": "page", "key": "mine"},
		annotations: map[string]string{"summary": "disk 97% full"},
	}, {
		name: "a rule's alert is sent with its own labels",
		alert: with(map[string]string{
			"alertname": "TiKV_server_is_down", "instance": "tikv-1:20180", "level": "critical",
			"__annotation_summary": "TiKV server is down", "__annotation_description": "cluster: c1",
		}, func(a *invariant.Alert) {
			a.Invariant, a.Key = "tikv/TiKV_server_is_down", `{alertname="TiKV_server_is_down", instance="tikv-1:20180", level="critical"}`
		}),
		labels:      map[string]string{"alertname": "TiKV_server_is_down", "instance": "tikv-1:20180", "level": "critical"},
		annotations: map[string]string{"summary": "TiKV server is down", "description": "cluster: c1"},
	}, {
		name:        "external labels fill in, never override",
		alert:       with(map[string]string{"cluster": "mine"}),
		external:    map[string]string{"cluster": "ext", "region": "eu", "empty": ""},
		labels:      map[string]string{"alertname": "disk_full", "severity": "critical", "key": "store=1", "cluster": "mine", "region": "eu"},
		annotations: map[string]string{"summary": "disk 97% full"},
	}, {
		name:        "names sanitized, empty values dropped, a valid name wins",
		alert:       with(map[string]string{"store-id": "1", "store_id": "2", "1x": "a", "é": "b", "gone": "", "": "x"}),
		labels:      map[string]string{"alertname": "disk_full", "severity": "critical", "key": "store=1", "store_id": "2", "_1x": "a", "_": "b"},
		annotations: map[string]string{"summary": "disk 97% full"},
	}, {
		name:        "invalid UTF-8 in values is replaced",
		alert:       with(map[string]string{"v": "a\xffb"}),
		labels:      map[string]string{"alertname": "disk_full", "severity": "critical", "key": "store=1", "v": "a\uFFFDb"},
		annotations: map[string]string{"summary": "disk 97% full"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, ExternalLabels: tt.external})
			require.NoError(t, err)
			require.Equal(t, 1, snd.Update(t0, []invariant.Alert{tt.alert}))
			require.NoError(t, snd.Flush(context.Background()))
			got := rc.all()
			require.Len(t, got, 1)
			if diff := cmp.Diff(tt.labels, got[0].Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.annotations, got[0].Annotations, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
		})
	}
}

package election_test

import (
	"crypto/tls"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/election"
)

func TestNewInvalid(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  election.Config
	}{
		{"ttl below the minimum", election.Config{TTL: 4 * time.Second}},
		{"relative prefix", election.Config{Prefix: "leader"}},
		{"prefix inside PD's keys", election.Config{Prefix: "/pd/7012345/leader"}},
		{"prefix inside TiDB's keys", election.Config{Prefix: "/tidb/ddl/fg/owner"}},
		{"negative timeout", election.Config{Timeout: -time.Second}},
		{"plaintext endpoint with TLS", election.Config{Endpoints: []string{"http://pd:2379"}, TLS: &tls.Config{}}},
		{"plaintext endpoint beside an https one", election.Config{Endpoints: []string{"https://pd-0:2379", "http://pd-1:2379"}}},
		{"not a URL", election.Config{Endpoints: []string{"ftp://pd:2379"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := election.New(tt.cfg)
			require.Nil(t, e)
			require.ErrorIs(t, err, subject.ErrInvalid)
		})
	}
}

func TestEndpoint(t *testing.T) {
	for _, tt := range []struct {
		in   string
		tls  bool
		want string
	}{
		{"127.0.0.1:2379", false, "http://127.0.0.1:2379"},
		{"127.0.0.1:2379", true, "https://127.0.0.1:2379"},
		{" HTTP://pd-0:2379/pd/api/v1 ", false, "http://pd-0:2379"},
		{"https://pd-0:2379", true, "https://pd-0:2379"},
	} {
		got, err := election.Endpoint(tt.in, tt.tls)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestDefaults(t *testing.T) {
	e, err := election.New(election.Config{})
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close(t.Context())) }()
	host, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, host+"-"+strconv.Itoa(os.Getpid()), e.Identity())
	require.Equal(t, election.DefaultPrefix, e.Prefix())
	require.Equal(t, election.DefaultTTL, e.TTL())
	// A closed election campaigns no more.
	require.NoError(t, e.Close(t.Context()))
	_, err = e.Campaign(t.Context())
	require.True(t, errors.Is(err, election.ErrClosed) && errors.Is(err, subject.ErrPrecondition), "%v", err)
}

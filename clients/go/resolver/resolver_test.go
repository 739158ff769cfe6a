package resolver

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var greeter = Key{Interface: "org.example.Greeter", Version: "1.0.0"}

// zoneOf writes a service's records in namespace shop the way dubbo-dns publishes them:
// two ready endpoints (one named by its pod), service and instance TXT.
func zoneOf(key Key, ttl string) []string {
	n := NamesOf(key.Service(), "shop", "dubbo.internal.", "tri")
	s := n.Service
	return []string{
		s + " " + ttl + ` IN TXT "txtvers=1" "interface=org.example.Greeter" "version=1.0.0" "protocol=tri" "serialization=protobuf" "timeout=3000"`,
		s + " " + ttl + " IN SRV 0 100 50051 greeter-0." + s,
		s + " " + ttl + " IN SRV 0 200 50052 127-0-0-12." + s,
		n.ProtocolSRV + " " + ttl + " IN SRV 0 100 50051 greeter-0." + s,
		n.ProtocolSRV + " " + ttl + " IN SRV 0 200 50052 127-0-0-12." + s,
		"greeter-0." + s + " " + ttl + " IN A 127.0.0.11",
		"greeter-0." + s + " " + ttl + ` IN TXT "txtvers=1" "application=greeter" "weight=100" "pod=greeter-0"`,
		"127-0-0-12." + s + " " + ttl + " IN A 127.0.0.12",
		"127-0-0-12." + s + " " + ttl + ` IN TXT "txtvers=1" "application=greeter" "weight=200" "timeout=5000"`,
	}
}

func newTestResolver(t *testing.T, servers ...string) *Resolver {
	t.Helper()
	r, err := New(Config{Servers: servers, Namespace: "shop", Timeout: 300 * time.Millisecond, MinRefresh: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	s := NamesOf(greeter.Service(), "shop", "dubbo.internal.", "").Service
	want := []Provider{
		{
			Address: "127.0.0.11", Port: 50051, Weight: 100, Protocol: "tri", Hostname: "greeter-0", Target: "greeter-0." + s,
			Metadata: map[string]string{"interface": "org.example.Greeter", "version": "1.0.0", "serialization": "protobuf", "timeout": "3000", "application": "greeter", "weight": "100", "pod": "greeter-0"},
			URL:      "tri://127.0.0.11:50051/org.example.Greeter?application=greeter&interface=org.example.Greeter&pod=greeter-0&serialization=protobuf&timeout=3000&version=1.0.0&weight=100",
		},
		{
			Address: "127.0.0.12", Port: 50052, Weight: 200, Protocol: "tri", Hostname: "", Target: "127-0-0-12." + s,
			Metadata: map[string]string{"interface": "org.example.Greeter", "version": "1.0.0", "serialization": "protobuf", "timeout": "5000", "application": "greeter", "weight": "200"},
			URL:      "tri://127.0.0.12:50052/org.example.Greeter?application=greeter&interface=org.example.Greeter&serialization=protobuf&timeout=5000&version=1.0.0&weight=200",
		},
	}
	tests := []struct {
		name     string
		key      Key
		glue     bool
		truncate bool
	}{
		{"bare name, addresses from the additional section", greeter, true, false},
		{"bare name, addresses asked separately", greeter, false, false},
		{"protocol name", Key{Interface: greeter.Interface, Version: greeter.Version, Protocol: "tri"}, true, false},
		{"truncated over UDP, retried over TCP", greeter, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, zoneOf(greeter, "5")...)
			srv.glue.Store(tt.glue)
			srv.truncate.Store(tt.truncate)
			res, err := newTestResolver(t, srv.addr).Resolve(context.Background(), tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Providers, want) {
				t.Fatalf("providers\n got %+v\nwant %+v", res.Providers, want)
			}
			if res.TTL != 5*time.Second || res.Stale {
				t.Fatalf("TTL %v stale %v", res.TTL, res.Stale)
			}
		})
	}
}

func TestResolveAAAA(t *testing.T) {
	s := NamesOf(greeter.Service(), "shop", "dubbo.internal.", "").Service
	srv := newTestServer(t,
		s+" 5 IN TXT \"txtvers=1\" \"protocol=dubbo\"",
		s+" 5 IN SRV 0 100 20880 fd00--12."+s,
		"fd00--12."+s+" 5 IN AAAA fd00::12",
	)
	srv.glue.Store(false)
	res, err := newTestResolver(t, srv.addr).Resolve(context.Background(), greeter)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Providers) != 1 || res.Providers[0].Address != "fd00::12" || !strings.HasPrefix(res.Providers[0].URL, "dubbo://[fd00::12]:20880/org.example.Greeter?") {
		t.Fatalf("got %+v", res.Providers)
	}
}

func TestNoSuchServiceAndNoProvider(t *testing.T) {
	s := NamesOf(greeter.Service(), "shop", "dubbo.internal.", "").Service
	srv := newTestServer(t, s+" 5 IN TXT \"txtvers=1\" \"protocol=tri\"")
	r := newTestResolver(t, srv.addr)

	res, err := r.Resolve(context.Background(), greeter)
	if err != nil || len(res.Providers) != 0 {
		t.Fatalf("a service with no ready provider: %+v, %v; want no providers, no error", res, err)
	}
	if res.TTL != 5*time.Second {
		t.Fatalf("negative TTL %v, want the SOA minimum 5s", res.TTL)
	}
	_, err = r.Resolve(context.Background(), Key{Interface: "org.example.Missing"})
	if !errors.Is(err, ErrNoSuchService) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("a missing service: %v, want ErrNoSuchService", err)
	}
	// A protocol the service does not serve: the service exists, no provider speaks it.
	res, err = r.Resolve(context.Background(), Key{Interface: greeter.Interface, Version: greeter.Version, Protocol: "rest"})
	if err != nil || len(res.Providers) != 0 {
		t.Fatalf("another protocol: %+v, %v", res, err)
	}
}

func TestCacheForTTLThenStaleOnFailure(t *testing.T) {
	srv := newTestServer(t, zoneOf(greeter, "5")...)
	r := newTestResolver(t, srv.addr)
	clock := time.Now()
	r.now = func() time.Time { return clock }

	first, err := r.Resolve(context.Background(), greeter)
	if err != nil {
		t.Fatal(err)
	}
	asked := srv.queries.Load()
	if _, err := r.Resolve(context.Background(), greeter); err != nil || srv.queries.Load() != asked {
		t.Fatalf("within the TTL: err %v, %d more queries", err, srv.queries.Load()-asked)
	}

	srv.rcode.Store(dns.RcodeServerFailure)
	clock = clock.Add(6 * time.Second)
	res, err := r.Resolve(context.Background(), greeter)
	if err != nil || !res.Stale || !errors.Is(res.Err, ErrUnavailable) || !reflect.DeepEqual(res.Providers, first.Providers) {
		t.Fatalf("after the TTL with the server failing: %+v, %v; want the last good answer, stale", res, err)
	}

	srv.rcode.Store(0)
	srv.set(t, zoneOf(greeter, "5")[:2]...) // one endpoint left: SRV without address records
	res, err = r.Resolve(context.Background(), greeter)
	if err != nil || !res.Stale {
		t.Fatalf("an SRV target without an address is a failure, not an answer: %+v, %v", res, err)
	}
}

func TestNoAnswerYetIsUnavailable(t *testing.T) {
	r := newTestResolver(t, silentServer(t))
	_, err := r.Resolve(context.Background(), greeter)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestNextServerOnTimeoutOrServfail(t *testing.T) {
	good := newTestServer(t, zoneOf(greeter, "5")...)
	failing := newTestServer(t)
	failing.rcode.Store(dns.RcodeServerFailure)
	tests := []struct {
		name    string
		servers []string
	}{
		{"first server silent", []string{silentServer(t), good.addr}},
		{"first server SERVFAIL", []string{failing.addr, good.addr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestResolver(t, tt.servers...)
			res, err := r.Resolve(context.Background(), greeter)
			if err != nil || len(res.Providers) != 2 {
				t.Fatalf("%+v, %v", res, err)
			}
			if got := r.transport.preferred.Load(); got != 1 {
				t.Fatalf("preferred server index %d, want 1 (the one that answered)", got)
			}
		})
	}
}

func TestWatchReportsChangesOnly(t *testing.T) {
	srv := newTestServer(t, zoneOf(greeter, "0")...)
	r := newTestResolver(t, srv.addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan Update, 10)
	go func() { _ = r.Watch(ctx, greeter, func(u Update) { updates <- u }) }()
	none := func(what string) {
		t.Helper()
		select {
		case u := <-updates:
			t.Fatalf("%s: reported %+v", what, u)
		default:
		}
	}

	if u := <-updates; len(u.Providers) != 2 || u.Err != nil || u.Stale {
		t.Fatalf("first report: %+v", u)
	}
	waitQueries(t, srv, srv.queries.Load()+20)
	none("refreshes with nothing changed")

	srv.set(t, append(zoneOf(greeter, "0")[:1], zoneOf(greeter, "0")[2:]...)...) // greeter-0 leaves the bare SRV
	if u := <-updates; len(u.Providers) != 1 || u.Providers[0].Address != "127.0.0.12" {
		t.Fatalf("after the change: %+v", u)
	}

	srv.rcode.Store(dns.RcodeServerFailure)
	if u := <-updates; !u.Stale || !errors.Is(u.Err, ErrUnavailable) || len(u.Providers) != 1 {
		t.Fatalf("servers failing: %+v, want the last providers, stale", u)
	}
	waitQueries(t, srv, srv.queries.Load()+4)
	none("still failing")

	srv.rcode.Store(0)
	if u := <-updates; u.Stale || len(u.Providers) != 1 {
		t.Fatalf("servers back: %+v", u)
	}

	srv.set(t, "other.shop.dubbo.internal. 0 IN TXT \"txtvers=1\"")
	if u := <-updates; !errors.Is(u.Err, ErrNoSuchService) || len(u.Providers) != 0 {
		t.Fatalf("service gone: %+v", u)
	}
}

// waitQueries waits until the server has seen n queries: refreshes happened.
func waitQueries(t *testing.T, s *testServer, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.queries.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d queries", s.queries.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRejectsABadServer(t *testing.T) {
	if _, err := New(Config{Servers: []string{"127.0.0.1"}}); err == nil {
		t.Fatal("a server without a port was accepted")
	}
	r, err := New(Config{Servers: []string{"127.0.0.1:53"}, Zone: "Dubbo.Internal"})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Config(); c.Zone != "dubbo.internal." || c.Namespace != "default" || c.Timeout != 2*time.Second {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestWatchRecheckAsksPastTheCache(t *testing.T) {
	srv := newTestServer(t, zoneOf(greeter, "3600")...)
	r := newTestResolver(t, srv.addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan Update, 10)
	recheck := make(chan struct{}, 1)
	go func() { _ = r.Watch(ctx, greeter, func(u Update) { updates <- u }, RecheckOn(recheck)) }()
	if u := <-updates; len(u.Providers) != 2 {
		t.Fatalf("first report: %+v", u)
	}
	// An hour's TTL: only a recheck finds the change, and the one after it too.
	srv.set(t, append(zoneOf(greeter, "3600")[:1], zoneOf(greeter, "3600")[2:]...)...)
	recheck <- struct{}{}
	if u := <-updates; len(u.Providers) != 1 {
		t.Fatalf("after a recheck: %+v", u)
	}
	asked := srv.queries.Load()
	srv.set(t, zoneOf(greeter, "3600")...)
	recheck <- struct{}{}
	if u := <-updates; len(u.Providers) != 2 {
		t.Fatalf("after a second recheck: %+v", u)
	}
	if srv.queries.Load() == asked {
		t.Fatal("no query after the recheck")
	}
}

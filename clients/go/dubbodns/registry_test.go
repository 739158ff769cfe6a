package dubbodns

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/registry"

	"github.com/miekg/dns"

	"github.com/dubbo-dns/dubbo-dns/clients/go/resolver"
)

func TestSettingsFrom(t *testing.T) {
	tests := []struct {
		name      string
		url       *common.URL
		servers   []string
		zone, ns  string
		timeout   time.Duration
		wantError bool
	}{
		{
			name:    "as dubbo-go builds it: host list in the location, zone and namespace as parameters",
			url:     registryURL("127.0.0.1:5353,127.0.0.2:5353", map[string]string{"zone": "Dubbo.Internal", constant.RegistryNamespaceKey: "shop"}),
			servers: []string{"127.0.0.1:5353", "127.0.0.2:5353"}, zone: "dubbo.internal.", ns: "shop",
		},
		{
			name:    "the whole registry URL in the location",
			url:     registryURL("dubbodns://10.0.0.53:5353?zone=corp.example.&namespace=orders&timeout=500ms", nil),
			servers: []string{"10.0.0.53:5353"}, zone: "corp.example.", ns: "orders", timeout: 500 * time.Millisecond,
		},
		{
			name:    "no port is port 53, IPv6 included; defaults for zone and namespace",
			url:     registryURL("10.0.0.53,[fd00::53]", nil),
			servers: []string{"10.0.0.53:53", "[fd00::53]:53"}, zone: "dubbo.internal.", ns: "default",
		},
		{name: "no server", url: registryURL("", nil), wantError: true},
		{name: "a bad timeout", url: registryURL("10.0.0.53:53?timeout=soon", nil), wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := settingsFrom(tt.url)
			if tt.wantError {
				if err == nil {
					t.Fatalf("accepted: %+v", cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := resolver.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Config()
			if strings.Join(got.Servers, ",") != strings.Join(tt.servers, ",") || got.Zone != tt.zone || got.Namespace != tt.ns {
				t.Fatalf("got servers %v zone %q namespace %q", got.Servers, got.Zone, got.Namespace)
			}
			if tt.timeout != 0 && got.Timeout != tt.timeout {
				t.Fatalf("timeout %v, want %v", got.Timeout, tt.timeout)
			}
		})
	}
}

// registryURL is a registry URL the way dubbo-go's config loader makes one (internal.LoadRegistries).
func registryURL(location string, params map[string]string) *common.URL {
	u := common.NewURLWithOptions(common.WithProtocol(Name), common.WithLocation(location))
	u.Location = location
	for k, v := range params {
		u.SetParam(k, v)
	}
	return u
}

func TestWithAddressMovesTheQueryWhereDubboGoKeepsIt(t *testing.T) {
	opts := registry.NewOptions(registry.WithID("dns"), WithAddress("dubbodns://127.0.0.1:5353,127.0.0.2:5353?zone=corp.example.&namespace=shop"))
	reg := opts.Registry
	if reg.Protocol != Name || reg.Address != "dubbodns://127.0.0.1:5353,127.0.0.2:5353" || reg.Namespace != "shop" || reg.Params["zone"] != "corp.example." {
		t.Fatalf("got %+v", reg)
	}
	if reg.RegistryType != constant.RegistryTypeInterface || reg.UseAsMetaReport != "false" || reg.UseAsConfigCenter != "false" {
		t.Fatalf("registry type %q, metadata report %q, config center %q", reg.RegistryType, reg.UseAsMetaReport, reg.UseAsConfigCenter)
	}
	if opts.ID != "dns" {
		t.Fatalf("id %q", opts.ID)
	}
}

func TestKeyOf(t *testing.T) {
	u := common.NewURLWithOptions(common.WithProtocol("tri"), common.WithPath("greet.GreetService"),
		common.WithParamsValue(constant.InterfaceKey, "greet.GreetService"),
		common.WithParamsValue(constant.GroupKey, "gray"), common.WithParamsValue(constant.VersionKey, "1.0.0"))
	if got := keyOf(u); got != (resolver.Key{Interface: "greet.GreetService", Group: "gray", Version: "1.0.0", Protocol: "tri"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestProviderURL(t *testing.T) {
	key := resolver.Key{Interface: "greet.GreetService", Version: "1.0.0", Protocol: "tri"}
	u := providerURL(key, resolver.Provider{Address: "fd00::12", Port: 20000, Weight: 200, Protocol: "tri", Metadata: map[string]string{"application": "greeter", "weight": "100", "group": "stale"}})
	if u.Protocol != "tri" || u.Location != "[fd00::12]:20000" || u.Ip != "fd00::12" || u.Port != "20000" || u.Path != "/greet.GreetService" {
		t.Fatalf("got %s (location %q)", u, u.Location)
	}
	for k, want := range map[string]string{"weight": "200", "version": "1.0.0", "group": "", "application": "greeter", "interface": "greet.GreetService", "side": "provider"} {
		if got := u.GetParam(k, ""); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// listener records what the registry tells dubbo-go's directory.
type listener struct {
	mu    sync.Mutex
	lists [][]string
}

func (l *listener) Notify(*registry.ServiceEvent) {}

func (l *listener) NotifyAll(evs []*registry.ServiceEvent, done func()) {
	var list []string
	for _, e := range evs {
		list = append(list, e.Service.Location)
	}
	l.mu.Lock()
	l.lists = append(l.lists, list)
	l.mu.Unlock()
	done()
}

func (l *listener) snapshot() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.lists...)
}

// TestSubscribeNotifiesChangesAndKeepsProvidersOnFailure drives the registry against a small
// DNS server: the first lookup fills the directory, an unchanged answer notifies nothing, a
// failing server keeps the providers, a change is notified.
func TestSubscribeNotifiesChangesAndKeepsProvidersOnFailure(t *testing.T) {
	srv := startDNS(t)
	names := resolver.NamesOf(resolver.ServiceKey{Interface: "greet.GreetService"}, "shop", "dubbo.internal.", "tri")
	zone := func(ports ...string) []string {
		lines := []string{names.Service + ` 0 IN TXT "txtvers=1" "interface=greet.GreetService" "protocol=tri"`}
		for _, p := range ports {
			target := "127-0-0-1-" + p + "." + names.Service
			lines = append(lines, names.ProtocolSRV+" 0 IN SRV 0 100 "+p+" "+target, target+" 0 IN A 127.0.0.1")
		}
		return lines
	}
	srv.set(t, zone("20000")...)

	reg, err := newRegistry(registryURL(srv.addr, map[string]string{"zone": "dubbo.internal.", "namespace": "shop"}))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Destroy()
	consumer := common.NewURLWithOptions(common.WithProtocol("tri"), common.WithPath("greet.GreetService"),
		common.WithParamsValue(constant.InterfaceKey, "greet.GreetService"),
		common.WithParamsValue(constant.RegistryRoleKey, "0"))
	l := &listener{}
	if err := reg.LoadSubscribeInstances(consumer, l); err != nil {
		t.Fatal(err)
	}
	if got := l.snapshot(); len(got) != 1 || strings.Join(got[0], ",") != "127.0.0.1:20000" {
		t.Fatalf("first load: %v", got)
	}
	if err := reg.Subscribe(consumer, l); err != nil {
		t.Fatal(err)
	}
	waitQueries(t, srv, 12)
	if got := l.snapshot(); len(got) != 1 {
		t.Fatalf("an unchanged answer was notified: %v", got)
	}
	srv.rcode.Store(dns.RcodeServerFailure)
	waitQueries(t, srv, srv.queries.Load()+4)
	if got := l.snapshot(); len(got) != 1 {
		t.Fatalf("a failure was notified: %v", got)
	}
	srv.rcode.Store(0)
	srv.set(t, zone("20001")...)
	deadline := time.Now().Add(10 * time.Second)
	for len(l.snapshot()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the change was not notified")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := l.snapshot(); strings.Join(got[1], ",") != "127.0.0.1:20001" {
		t.Fatalf("after the change: %v", got)
	}
	if err := reg.Register(consumer); err != nil {
		t.Fatalf("Register is a no-op: %v", err)
	}
}

type dnsServer struct {
	addr    string
	queries atomic.Int64
	rcode   atomic.Int32
	mu      sync.Mutex
	records map[string][]dns.RR
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = pc.LocalAddr().String()
	server := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{})
	server.NotifyStartedFunc = func() { close(started) }
	go func() { _ = server.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = server.Shutdown() })
	return s
}

func (s *dnsServer) set(t *testing.T, lines ...string) {
	t.Helper()
	records := map[string][]dns.RR{}
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatal(err)
		}
		k := dns.CanonicalName(rr.Header().Name) + " " + dns.TypeToString[rr.Header().Rrtype]
		records[k] = append(records[k], rr)
	}
	s.mu.Lock()
	s.records = records
	s.mu.Unlock()
}

func (s *dnsServer) serve(w dns.ResponseWriter, q *dns.Msg) {
	s.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(q)
	if rcode := int(s.rcode.Load()); rcode != 0 {
		m.Rcode = rcode
	} else {
		s.mu.Lock()
		m.Answer = s.records[dns.CanonicalName(q.Question[0].Name)+" "+dns.TypeToString[q.Question[0].Qtype]]
		s.mu.Unlock()
	}
	_ = w.WriteMsg(m)
}

func waitQueries(t *testing.T, s *dnsServer, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for s.queries.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d queries", s.queries.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

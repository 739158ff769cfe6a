package resolver

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// testServer is a small authoritative server for unit tests: records given as zone-file
// lines, answered over UDP and TCP on one loopback port. The real dubbo-dns server is
// exercised by the end-to-end tests (test/consumers/).
type testServer struct {
	addr     string
	queries  atomic.Int64
	mu       sync.Mutex
	records  map[string][]dns.RR // "name TYPE" -> records
	names    map[string]bool
	glue     atomic.Bool  // put SRV targets' addresses in the additional section
	truncate atomic.Bool  // answer UDP with TC=1 and nothing else
	rcode    atomic.Int32 // when not 0, answer every query with this rcode
	udp, tcp *dns.Server
}

func newTestServer(t *testing.T, zone ...string) *testServer {
	t.Helper()
	s := &testServer{}
	s.glue.Store(true)
	s.set(t, zone...)
	pc, l := listenBoth(t)
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	s.tcp = &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serve)}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(s.stop)
	return s
}

// listenBoth binds UDP and TCP on one free loopback port.
func listenBoth(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		_ = pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// set replaces the zone's records; every owner name (and its parents below the zone) exists.
func (s *testServer) set(t *testing.T, zone ...string) {
	t.Helper()
	records := map[string][]dns.RR{}
	names := map[string]bool{}
	for _, line := range zone {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		name := dns.CanonicalName(rr.Header().Name)
		k := name + " " + dns.TypeToString[rr.Header().Rrtype]
		records[k] = append(records[k], rr)
		names[name] = true
	}
	s.mu.Lock()
	s.records, s.names = records, names
	s.mu.Unlock()
}

func (s *testServer) stop() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

func (s *testServer) serve(w dns.ResponseWriter, q *dns.Msg) {
	s.queries.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if rcode := int(s.rcode.Load()); rcode != 0 {
		m.Rcode = rcode
		_ = w.WriteMsg(m)
		return
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp && s.truncate.Load() {
		m.Truncated = true
		_ = w.WriteMsg(m)
		return
	}
	question := q.Question[0]
	name := dns.CanonicalName(question.Name)
	m.Answer = s.records[name+" "+dns.TypeToString[question.Qtype]]
	if len(m.Answer) == 0 {
		if !s.exists(name) {
			m.Rcode = dns.RcodeNameError
		}
		soa, _ := dns.NewRR("dubbo.internal. 5 IN SOA ns.dubbo.internal. hostmaster.dubbo.internal. 1 60 10 600 5")
		m.Ns = []dns.RR{soa}
	}
	if s.glue.Load() {
		for _, rr := range m.Answer {
			if srv, ok := rr.(*dns.SRV); ok {
				target := dns.CanonicalName(srv.Target)
				m.Extra = append(m.Extra, s.records[target+" A"]...)
				m.Extra = append(m.Extra, s.records[target+" AAAA"]...)
			}
		}
	}
	_ = w.WriteMsg(m)
}

// exists says whether name owns records or is an ancestor of a name that does (RFC 8020).
func (s *testServer) exists(name string) bool {
	for n := range s.names {
		if n == name || strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return false
}

// silentServer is a UDP socket that never answers: a server that is down without refusing.
func silentServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc.LocalAddr().String()
}

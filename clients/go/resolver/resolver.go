package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Config tells a Resolver where to ask. Zero values take the documented defaults.
type Config struct {
	// Servers are the dubbo-dns servers (or resolvers that forward its zone) as host:port,
	// asked in order, the next one when a server does not answer. Default: the nameservers
	// of /etc/resolv.conf.
	Servers []string
	// Zone is the dubbo-dns zone. Default "dubbo.internal.".
	Zone string
	// Namespace is the providers' namespace. Default "default".
	Namespace string
	// Timeout bounds one query to one server. Default 2s.
	Timeout time.Duration
	// UDPSize is the EDNS UDP payload size offered. Default 1232.
	UDPSize uint16
	// MinRefresh and MaxRefresh bound how often Watch re-resolves: at the answer's TTL,
	// but not more often than MinRefresh (default 1s) nor less often than MaxRefresh
	// (default 30s). MaxRefresh also caps the retry interval while servers fail.
	MinRefresh time.Duration
	MaxRefresh time.Duration
}

// Result is the answer for one key.
type Result struct {
	// Providers are the ready providers, ordered by address and port. Empty when the service
	// exists but has no ready provider.
	Providers []Provider
	// Name is the SRV name that was asked.
	Name string
	// TTL is how long the answer may be used: the smallest TTL of the records it came from.
	TTL time.Duration
	// Expires is when the answer stops being fresh.
	Expires time.Time
	// Stale is true when every server failed and this is the last good answer; Err says why.
	Stale bool
	// Err is the failure behind a stale answer, else nil.
	Err error
}

// Resolver resolves service keys to providers through dubbo-dns. It is safe for concurrent
// use; answers are cached per key for their TTL.
type Resolver struct {
	cfg       Config
	transport *transport
	now       func() time.Time

	mu       sync.Mutex
	cache    map[Key]*entry
	inflight map[Key]*call
}

// entry is the last authoritative answer for a key: providers, or NXDOMAIN (notFound).
type entry struct {
	result   Result
	notFound error
}

type call struct {
	done   chan struct{}
	result Result
	err    error
}

// New makes a Resolver; it fails only when no server is given and none can be read from
// /etc/resolv.conf, or a server is not host:port.
func New(cfg Config) (*Resolver, error) {
	if cfg.Zone == "" {
		cfg.Zone = "dubbo.internal."
	}
	cfg.Zone = NormalizeZone(cfg.Zone)
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.UDPSize == 0 {
		cfg.UDPSize = 1232
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = time.Second
	}
	if cfg.MaxRefresh <= 0 {
		cfg.MaxRefresh = 30 * time.Second
	}
	if cfg.MaxRefresh < cfg.MinRefresh {
		cfg.MaxRefresh = cfg.MinRefresh
	}
	if len(cfg.Servers) == 0 {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("resolver: no servers given and /etc/resolv.conf unreadable: %w", err)
		}
		for _, s := range conf.Servers {
			cfg.Servers = append(cfg.Servers, net.JoinHostPort(s, conf.Port))
		}
		if len(cfg.Servers) == 0 {
			return nil, errors.New("resolver: no servers given and none in /etc/resolv.conf")
		}
	}
	servers := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("resolver: server %q is not host:port: %w", s, err)
		}
		servers = append(servers, s)
	}
	cfg.Servers = servers
	return &Resolver{
		cfg:       cfg,
		transport: newTransport(servers, cfg.Timeout, cfg.UDPSize),
		now:       time.Now,
		cache:     map[Key]*entry{},
		inflight:  map[Key]*call{},
	}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (r *Resolver) Config() Config { return r.cfg }

// Names are the names of a key in the resolver's namespace and zone.
func (r *Resolver) Names(key Key) Names {
	return NamesOf(key.Service(), r.cfg.Namespace, r.cfg.Zone, key.Protocol)
}

// Resolve returns the providers of key: from the cache while fresh, else from the servers.
// When the service does not exist the error wraps ErrNoSuchService. When every server fails
// the last good answer comes back with Stale set (and a nil error); with no good answer
// yet, the error wraps ErrUnavailable.
func (r *Resolver) Resolve(ctx context.Context, key Key) (Result, error) {
	return r.resolve(ctx, key, true)
}

// resolve is Resolve; with cached false it asks the servers even while the cache is fresh.
func (r *Resolver) resolve(ctx context.Context, key Key, cached bool) (Result, error) {
	r.mu.Lock()
	if e := r.cache[key]; cached && e != nil && r.now().Before(e.result.Expires) {
		r.mu.Unlock()
		return e.answer()
	}
	// One query per key at a time: concurrent callers share it.
	if c := r.inflight[key]; c != nil {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.result, c.err
		case <-ctx.Done():
			return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
	}
	c := &call{done: make(chan struct{})}
	r.inflight[key] = c
	r.mu.Unlock()

	c.result, c.err = r.refresh(ctx, key)

	r.mu.Lock()
	delete(r.inflight, key)
	r.mu.Unlock()
	close(c.done)
	return c.result, c.err
}

// refresh asks the servers and updates the cache; on failure it falls back to the last
// good answer.
func (r *Resolver) refresh(ctx context.Context, key Key) (Result, error) {
	res, notFound, err := r.lookup(ctx, key)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		last := r.cache[key]
		if last == nil || last.notFound != nil {
			if last != nil {
				return Result{Name: last.result.Name}, last.notFound
			}
			return Result{}, err
		}
		stale := last.result
		stale.Stale, stale.Err = true, err
		return stale, nil
	}
	e := &entry{result: res, notFound: notFound}
	r.cache[key] = e
	return e.answer()
}

func (e *entry) answer() (Result, error) {
	if e.notFound != nil {
		return Result{Name: e.result.Name, TTL: e.result.TTL, Expires: e.result.Expires}, e.notFound
	}
	res := e.result
	res.Providers = append([]Provider(nil), res.Providers...)
	return res, nil
}

// lookup asks the servers for the SRV, TXT and addresses of a key. An authoritative answer
// ends in a result (or notFound for NXDOMAIN); any failure in err.
func (r *Resolver) lookup(ctx context.Context, key Key) (Result, error, error) {
	names := r.Names(key)
	srvName := names.Service
	if key.Protocol != "" {
		srvName = names.ProtocolSRV
	}

	var (
		wg             sync.WaitGroup
		srv, txt       *dns.Msg
		srvErr, txtErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); srv, srvErr = r.transport.exchange(ctx, srvName, dns.TypeSRV) }()
	go func() { defer wg.Done(); txt, txtErr = r.transport.exchange(ctx, names.Service, dns.TypeTXT) }()
	wg.Wait()
	if err := firstError(srvErr, txtErr); err != nil {
		return Result{}, nil, err
	}

	now := r.now()
	ttl := newMinTTL()
	if txt.Rcode == dns.RcodeNameError {
		ttl.negative(txt)
		return Result{Name: srvName, TTL: ttl.get(), Expires: now.Add(ttl.get())}, fmt.Errorf("%s: %w", names.Service, ErrNoSuchService), nil
	}
	service := ParseTXT(txtStrings(txt.Answer, names.Service, &ttl))
	protocol := key.Protocol
	if protocol == "" {
		protocol = service["protocol"]
	}
	if protocol == "" {
		protocol = "dubbo"
	}

	var records []*dns.SRV
	for _, rr := range srv.Answer {
		if s, ok := rr.(*dns.SRV); ok && sameName(s.Hdr.Name, srvName) {
			records = append(records, s)
			ttl.add(s.Hdr.Ttl)
		}
	}
	if len(records) == 0 {
		ttl.negative(srv)
	}

	providers := make([]Provider, len(records))
	errs := make([]error, len(records))
	ttls := make([]minTTL, len(records))
	for i, s := range records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ttls[i] = newMinTTL()
			providers[i], errs[i] = r.provider(ctx, key, protocol, service, s, srv.Extra, &ttls[i])
		}()
	}
	wg.Wait()
	if err := firstError(errs...); err != nil {
		return Result{}, nil, err
	}
	for _, t := range ttls {
		ttl.merge(t)
	}
	sortProviders(providers)
	return Result{Providers: providers, Name: srvName, TTL: ttl.get(), Expires: now.Add(ttl.get())}, nil, nil
}

// provider completes one SRV record: the target's address (from the additional section when
// the server put it there) and the instance TXT.
func (r *Resolver) provider(ctx context.Context, key Key, protocol string, service map[string]string, s *dns.SRV, extra []dns.RR, ttl *minTTL) (Provider, error) {
	address := addressIn(extra, s.Target, ttl)
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if address != "" {
			break
		}
		reply, err := r.transport.exchange(ctx, s.Target, qtype)
		if err != nil {
			return Provider{}, err
		}
		address = addressIn(reply.Answer, s.Target, ttl)
	}
	if address == "" {
		return Provider{}, fmt.Errorf("%w: SRV target %s has no address", ErrUnavailable, s.Target)
	}
	reply, err := r.transport.exchange(ctx, s.Target, dns.TypeTXT)
	if err != nil {
		return Provider{}, err
	}
	instance := ParseTXT(txtStrings(reply.Answer, s.Target, ttl))
	params := mergeParams(service, instance)
	delete(params, "protocol")
	target := dns.CanonicalName(s.Target)
	hostname := strings.SplitN(target, ".", 2)[0]
	if hostname == AddressLabel(address) {
		hostname = ""
	}
	return Provider{
		Address:  address,
		Port:     int(s.Port),
		Weight:   int(s.Weight),
		Protocol: protocol,
		Hostname: hostname,
		Target:   target,
		Metadata: params,
		URL:      providerURL(protocol, address, int(s.Port), key.Service(), params),
	}, nil
}

// firstError is the first non-nil error: one failure is enough to say why, on one line.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// addressIn finds the A or AAAA record of name in rrs.
func addressIn(rrs []dns.RR, name string, ttl *minTTL) string {
	for _, rr := range rrs {
		if !sameName(rr.Header().Name, name) {
			continue
		}
		switch a := rr.(type) {
		case *dns.A:
			ttl.add(a.Hdr.Ttl)
			return a.A.String()
		case *dns.AAAA:
			ttl.add(a.Hdr.Ttl)
			return a.AAAA.String()
		}
	}
	return ""
}

// txtStrings gathers the strings of the TXT records owned by name, unescaped.
func txtStrings(rrs []dns.RR, name string, ttl *minTTL) []string {
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok && sameName(t.Hdr.Name, name) {
			ttl.add(t.Hdr.Ttl)
			for _, s := range t.Txt {
				out = append(out, rawTXT(s))
			}
		}
	}
	return out
}

// minTTL tracks the smallest TTL seen (RFC 2181 §5.2: an answer lives as long as its
// shortest-lived record).
type minTTL struct {
	seen bool
	ttl  uint32
}

func newMinTTL() minTTL { return minTTL{} }

func (m *minTTL) add(ttl uint32) {
	if !m.seen || ttl < m.ttl {
		m.seen, m.ttl = true, ttl
	}
}

func (m *minTTL) merge(o minTTL) {
	if o.seen {
		m.add(o.ttl)
	}
}

// negative takes the negative-caching TTL of a NODATA or NXDOMAIN reply: the smaller of the
// SOA's TTL and its minimum field (RFC 2308 §5).
func (m *minTTL) negative(reply *dns.Msg) {
	for _, rr := range reply.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			m.add(min(soa.Hdr.Ttl, soa.Minttl))
		}
	}
}

func (m *minTTL) get() time.Duration {
	if !m.seen {
		return 0
	}
	return time.Duration(m.ttl) * time.Second
}

package resolver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// transport asks a list of servers one question at a time: UDP with EDNS first, the same
// server over TCP when the answer is truncated, and the next server when one does not
// answer usefully. It starts with the server that last answered, so a dead first server
// costs one timeout per outage, not one per query.
type transport struct {
	servers   []string
	timeout   time.Duration
	udpSize   uint16
	preferred atomic.Uint32
	udp       *dns.Client
	tcp       *dns.Client
}

func newTransport(servers []string, timeout time.Duration, udpSize uint16) *transport {
	return &transport{
		servers: servers,
		timeout: timeout,
		udpSize: udpSize,
		udp:     &dns.Client{Net: "udp", Timeout: timeout, UDPSize: udpSize},
		tcp:     &dns.Client{Net: "tcp", Timeout: timeout},
	}
}

// exchange returns a NOERROR or NXDOMAIN reply to (name, qtype), or an error wrapping
// ErrUnavailable when no server gave one.
func (t *transport) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	// RD is set so the same query also works through a recursive resolver that forwards the
	// zone (CoreDNS); dubbo-dns itself answers its own zone authoritatively either way.
	q.RecursionDesired = true
	q.SetEdns0(t.udpSize, false)

	start := int(t.preferred.Load())
	var last error
	for i := range t.servers {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %w", name, dns.TypeToString[qtype], ErrUnavailable, err)
		}
		idx := (start + i) % len(t.servers)
		server := t.servers[idx]
		reply, err := t.ask(ctx, q, server)
		if err == nil && (reply.Rcode == dns.RcodeSuccess || reply.Rcode == dns.RcodeNameError) {
			t.preferred.Store(uint32(idx))
			return reply, nil
		}
		if err == nil {
			err = fmt.Errorf("%s answered %s", server, dns.RcodeToString[reply.Rcode])
		}
		last = err
	}
	return nil, fmt.Errorf("%s %s: %w: %w", name, dns.TypeToString[qtype], ErrUnavailable, last)
}

// ask sends q to one server, over TCP again when the UDP answer is truncated.
func (t *transport) ask(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	reply, _, err := t.udp.ExchangeContext(actx, q, server)
	if err == nil && reply.Truncated {
		reply, _, err = t.tcp.ExchangeContext(actx, q, server)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", server, err)
	}
	if len(reply.Question) != 1 || !sameName(reply.Question[0].Name, q.Question[0].Name) {
		return nil, errors.New(server + ": reply does not echo the question")
	}
	return reply, nil
}

func sameName(a, b string) bool {
	return dns.CanonicalName(a) == dns.CanonicalName(b)
}

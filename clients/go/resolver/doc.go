// Package resolver finds the providers of a Dubbo service through dubbo-dns.
//
// A service key (interface, group, version) in namespace N of zone Z has the DNS name
// S.N.Z, where S is the service label computed by [ServiceLabel]. Its SRV records give
// the ready providers (port, weight, target E.S.N.Z), the targets' A/AAAA records their
// addresses, and the TXT records (RFC 6763 key=value strings) the service's and each
// instance's Dubbo parameters, from which a provider URL is rebuilt.
//
// A [Resolver] asks one or more dubbo-dns servers directly (UDP with EDNS, TCP when
// the answer is truncated, the next server on a timeout), caches answers for their TTL,
// and answers with the last good result, marked stale, when every server fails.
// [Resolver.Watch] re-resolves at the TTL and reports changes only.
package resolver

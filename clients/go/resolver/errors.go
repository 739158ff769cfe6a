package resolver

import "errors"

var (
	// ErrNoSuchService means the service's name does not exist (NXDOMAIN): dubbo-dns
	// publishes no service with this key in this namespace. A service that exists with no
	// ready provider is not an error: it resolves to an empty provider list.
	ErrNoSuchService = errors.New("no such service")
	// ErrUnavailable means no server gave a usable answer: every one timed out, was
	// unreachable, or answered SERVFAIL or REFUSED. It is transient.
	ErrUnavailable = errors.New("dubbo-dns unavailable")
)

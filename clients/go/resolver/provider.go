package resolver

import (
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Key is what a consumer asks for: a Dubbo service key and, optionally, the protocol it
// speaks. With a protocol the resolver asks for _P._tcp.S.N.Z and gets only the endpoints
// serving P; without one it asks for S.N.Z and gets the service's own protocol.
type Key struct {
	Interface string
	Group     string
	Version   string
	Protocol  string
}

// Service is the key without the protocol.
func (k Key) Service() ServiceKey {
	return ServiceKey{Interface: k.Interface, Group: k.Group, Version: k.Version}
}

// Provider is one ready provider of a service, as dubbo-dns publishes it.
type Provider struct {
	// Address is the endpoint's IP address.
	Address string
	// Port is the port it serves the protocol on.
	Port int
	// Weight is the SRV weight: the provider's Dubbo weight (100 unless set).
	Weight int
	// Protocol is the Dubbo protocol (dubbo, tri, ...).
	Protocol string
	// Hostname is the endpoint's hostname (the pod name) when it has one, else empty.
	Hostname string
	// Target is the SRV target E.S.N.Z, which carries the instance's own TXT.
	Target string
	// Metadata is the service's TXT parameters overlaid with the instance's (the instance
	// wins), without txtvers.
	Metadata map[string]string
	// URL is the Dubbo provider URL P://address:port/interface?params rebuilt from them.
	URL string
}

// providerURL rebuilds P://address:port/I?params with the key's identity parameters set and
// the parameters sorted, so equal providers give equal URLs.
func providerURL(protocol, address string, port int, key ServiceKey, params map[string]string) string {
	values := url.Values{}
	for k, v := range params {
		values.Set(k, v)
	}
	values.Set("interface", key.Interface)
	if key.Group != "" {
		values.Set("group", key.Group)
	}
	if key.Version != "" {
		values.Set("version", key.Version)
	}
	return protocol + "://" + net.JoinHostPort(address, strconv.Itoa(port)) + "/" + key.Interface + "?" + values.Encode()
}

// mergeParams overlays instance parameters on the service's, leaving out the TXT version.
func mergeParams(service, instance map[string]string) map[string]string {
	out := make(map[string]string, len(service)+len(instance))
	for k, v := range service {
		out[k] = v
	}
	for k, v := range instance {
		out[k] = v
	}
	delete(out, "txtvers")
	return out
}

// sortProviders orders providers by address and port, so results compare stably.
func sortProviders(ps []Provider) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Address != ps[j].Address {
			return ps[i].Address < ps[j].Address
		}
		return ps[i].Port < ps[j].Port
	})
}

// fingerprint is what a watcher compares to decide that providers changed.
func fingerprint(ps []Provider, notFound bool) string {
	var b strings.Builder
	if notFound {
		b.WriteString("NXDOMAIN\n")
	}
	for _, p := range ps {
		b.WriteString(strconv.Itoa(p.Weight))
		b.WriteByte(' ')
		b.WriteString(p.URL)
		b.WriteByte('\n')
	}
	return b.String()
}

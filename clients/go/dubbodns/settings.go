package dubbodns

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"

	"github.com/dubbo-dns/dubbo-dns/clients/go/resolver"
)

// defaultDNSPort is used for a server given without a port.
const defaultDNSPort = "53"

// settingsFrom reads the resolver configuration from a registry URL: the servers from its
// location (h1:p1,h2:p2; a server without a port gets 53), the zone from the "zone"
// parameter, the namespace from "namespace" or the registry's namespace setting, and the
// per-query timeout from "timeout". A query still on the location (a registry URL built by
// hand rather than by dubbo-go's configuration, which drops it) is read first.
func settingsFrom(u *common.URL) (resolver.Config, error) {
	hosts, query := u.Location, url.Values{}
	if i := strings.Index(hosts, "://"); i >= 0 {
		parsed, err := url.Parse(hosts)
		if err != nil {
			return resolver.Config{}, fmt.Errorf("dubbodns: registry address %q: %w", hosts, err)
		}
		hosts, query = parsed.Host, parsed.Query()
	} else if i := strings.Index(hosts, "?"); i >= 0 {
		q, err := url.ParseQuery(hosts[i+1:])
		if err != nil {
			return resolver.Config{}, fmt.Errorf("dubbodns: registry address %q: %w", hosts, err)
		}
		hosts, query = hosts[:i], q
	}
	param := func(keys ...string) string {
		for _, k := range keys {
			if v := query.Get(k); v != "" {
				return v
			}
		}
		for _, k := range keys {
			if v := u.GetParam(k, ""); v != "" {
				return v
			}
		}
		return ""
	}

	var cfg resolver.Config
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defaultDNSPort)
		}
		cfg.Servers = append(cfg.Servers, h)
	}
	if len(cfg.Servers) == 0 {
		return resolver.Config{}, fmt.Errorf("dubbodns: registry address %q names no server", u.Location)
	}
	cfg.Zone = param("zone")
	cfg.Namespace = param("namespace", constant.RegistryNamespaceKey)
	if t := param("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return resolver.Config{}, fmt.Errorf("dubbodns: timeout %q is not a positive duration (like 2s)", t)
		}
		cfg.Timeout = d
	}
	return cfg, nil
}

// keyOf is what a consumer subscription asks for. The reference's protocol, when set,
// selects _P._tcp.S.N.Z, so only providers of that protocol come back (dubbo-go's directory
// does not filter a full provider list by protocol itself).
func keyOf(u *common.URL) resolver.Key {
	protocol := u.Protocol
	if protocol == "consumer" {
		protocol = ""
	}
	return resolver.Key{
		Interface: u.GetParam(constant.InterfaceKey, u.Service()),
		Group:     u.GetParam(constant.GroupKey, ""),
		Version:   u.GetParam(constant.VersionKey, ""),
		Protocol:  protocol,
	}
}

package dubbodns

import (
	"net/url"
	"strings"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/registry"
)

// WithAddress configures a dubbo-go registry from a dubbo-dns registry URL,
// dubbodns://HOST:PORT[,HOST:PORT...]?zone=Z&namespace=N, for dubbo.WithRegistry or
// client.WithClientRegistry:
//
//	dubbo.WithRegistry(registry.WithID("dns"), dubbodns.WithAddress("dubbodns://127.0.0.1:5353?namespace=shop"))
//
// dubbo-go drops the query of a registry address when it loads its configuration, so the
// zone and namespace are moved to where they survive (the registry's params and namespace),
// and the registry is made interface-level and kept out of dubbo-go's metadata report and
// config center, which dubbo-dns is not.
func WithAddress(address string) registry.Option {
	return func(opts *registry.Options) {
		reg := opts.Registry
		reg.Protocol = Name
		reg.Address = address
		reg.RegistryType = constant.RegistryTypeInterface
		reg.UseAsMetaReport = "false"
		reg.UseAsConfigCenter = "false"
		rest, ok := strings.CutPrefix(address, Name+"://")
		if !ok {
			return
		}
		hosts, query, _ := strings.Cut(rest, "?")
		reg.Address = Name + "://" + hosts
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		if reg.Params == nil {
			reg.Params = map[string]string{}
		}
		for k := range values {
			reg.Params[k] = values.Get(k)
		}
		if ns := values.Get("namespace"); ns != "" {
			reg.Namespace = ns
		}
	}
}

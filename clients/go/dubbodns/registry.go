package dubbodns

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/registry/directory"
	"dubbo.apache.org/dubbo-go/v3/remoting"

	"github.com/dubbogo/gost/log/logger"

	"github.com/dubbo-dns/dubbo-dns/clients/go/resolver"
)

// Name is the registry's protocol name in dubbo-go configuration.
const Name = "dubbodns"

// firstLoadTimeout bounds the synchronous first resolution a new reference waits for.
const firstLoadTimeout = 5 * time.Second

func init() {
	extension.SetRegistry(Name, newRegistry)
	// The stock interface-level directory is the right one; naming it avoids dubbo-go's
	// fallback warning for an unknown directory type.
	extension.SetDirectory(Name, directory.NewRegistryDirectory)
	// Without registry-type interface dubbo-go would look for an application-level service
	// discovery of this name; say plainly what to change instead of failing obscurely.
	extension.SetServiceDiscovery(Name, func(*common.URL) (registry.ServiceDiscovery, error) {
		return nil, errors.New("dubbodns is an interface-level registry: set registry-type: interface (registry.WithRegisterInterface())")
	})
}

// dnsRegistry implements registry.Registry on a resolver. One watch runs per subscribed
// reference; each notifies its directory with the full provider list on change.
type dnsRegistry struct {
	url      *common.URL
	resolver *resolver.Resolver
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	watches map[string]func() // stops the watch of a subscription, by its URL key
	loaded  map[string]string // what LoadSubscribeInstances notified, by subscription URL key
}

func newRegistry(u *common.URL) (registry.Registry, error) {
	cfg, err := settingsFrom(u)
	if err != nil {
		return nil, err
	}
	res, err := resolver.New(cfg)
	if err != nil {
		return nil, err
	}
	c := res.Config()
	logger.Infof("[Registry][dubbodns] servers=%v zone=%s namespace=%s", c.Servers, c.Zone, c.Namespace)
	ctx, cancel := context.WithCancel(context.Background())
	return &dnsRegistry{url: u, resolver: res, ctx: ctx, cancel: cancel, watches: map[string]func(){}, loaded: map[string]string{}}, nil
}

// GetURL returns the registry's URL.
func (r *dnsRegistry) GetURL() *common.URL { return r.url }

// IsAvailable is true until Destroy: DNS failures are ridden out with the last providers.
func (r *dnsRegistry) IsAvailable() bool { return r.ctx.Err() == nil }

// Destroy stops every watch.
func (r *dnsRegistry) Destroy() {
	r.cancel()
	r.wg.Wait()
}

// Register does nothing: dubbo-dns publishes providers from Kubernetes or its registry file.
func (r *dnsRegistry) Register(*common.URL) error { return nil }

// UnRegister does nothing, as Register.
func (r *dnsRegistry) UnRegister(*common.URL) error { return nil }

// LoadSubscribeInstances resolves a new reference's providers before dubbo-go's first call,
// so the directory is not empty while Subscribe starts. A failure is logged, not returned:
// returning it would fail the reference, and the watch keeps trying.
func (r *dnsRegistry) LoadSubscribeInstances(u *common.URL, listener registry.NotifyListener) error {
	if !isConsumer(u) {
		return nil
	}
	key := keyOf(u)
	ctx, cancel := context.WithTimeout(r.ctx, firstLoadTimeout)
	defer cancel()
	res, err := r.resolver.Resolve(ctx, key)
	if err != nil {
		logger.Warnf("[Registry][dubbodns] first lookup of %s (%s): %v", key, res.Name, err)
		return nil
	}
	logger.Infof("[Registry][dubbodns] %s: %d providers %v", keyString(key), len(res.Providers), addresses(res.Providers))
	evs := events(key, res.Providers)
	r.mu.Lock()
	r.loaded[u.Key()] = eventsFingerprint(evs)
	r.mu.Unlock()
	listener.NotifyAll(evs, func() {})
	return nil
}

// Subscribe watches a reference's providers until UnSubscribe or Destroy. Provider-side
// subscriptions (to configurators) are ignored: there are none in DNS.
func (r *dnsRegistry) Subscribe(u *common.URL, listener registry.NotifyListener) error {
	if !isConsumer(u) {
		return nil
	}
	key := keyOf(u)
	ctx, cancel := context.WithCancel(r.ctx)
	// A provider that shuts down gracefully tells its consumers first, and dubbo-go drops it
	// from the directory at once; ask dubbo-dns again right then, so its replacement is found
	// without waiting out the TTL.
	closing := &closingWatch{recheck: make(chan struct{}, 1)}
	serviceKey := u.ServiceKey()
	graceful_shutdown.DefaultClosingDirectoryRegistry().Register(serviceKey, closing)
	stop := func() {
		cancel()
		graceful_shutdown.DefaultClosingDirectoryRegistry().Unregister(serviceKey, closing)
	}
	r.mu.Lock()
	if old, ok := r.watches[u.Key()]; ok {
		old()
	}
	r.watches[u.Key()] = stop
	notified := r.loaded[u.Key()]
	r.mu.Unlock()

	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer stop()
		_ = r.resolver.Watch(ctx, key, func(up resolver.Update) {
			if up.Stale {
				logger.Warnf("[Registry][dubbodns] %s: dubbo-dns unavailable, keeping %d known providers: %v", keyString(key), len(up.Providers), up.Err)
				return
			}
			evs := events(key, up.Providers)
			fp := eventsFingerprint(evs)
			if fp == notified {
				return
			}
			notified = fp
			if errors.Is(up.Err, resolver.ErrNoSuchService) {
				logger.Warnf("[Registry][dubbodns] %s: no such service in dubbo-dns", keyString(key))
			}
			logger.Infof("[Registry][dubbodns] %s: %d providers %v", keyString(key), len(up.Providers), addresses(up.Providers))
			listener.NotifyAll(evs, func() {})
		}, resolver.RecheckOn(closing.recheck))
	}()
	return nil
}

// closingWatch hears dubbo-go's graceful-shutdown news for one reference.
type closingWatch struct {
	recheck chan struct{}
}

// RemoveClosingInstance asks for a recheck; it removes nothing itself (the directory does),
// so it reports false.
func (c *closingWatch) RemoveClosingInstance(string) bool {
	select {
	case c.recheck <- struct{}{}:
	default:
	}
	return false
}

// UnSubscribe stops the watch of a reference.
func (r *dnsRegistry) UnSubscribe(u *common.URL, _ registry.NotifyListener) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if stop, ok := r.watches[u.Key()]; ok {
		stop()
		delete(r.watches, u.Key())
	}
	return nil
}

func isConsumer(u *common.URL) bool {
	role, _ := strconv.Atoi(u.GetParam(constant.RegistryRoleKey, ""))
	return role == common.CONSUMER
}

// events turns providers into the complete list dubbo-go's NotifyAll expects.
func events(key resolver.Key, providers []resolver.Provider) []*registry.ServiceEvent {
	out := make([]*registry.ServiceEvent, 0, len(providers))
	for _, p := range providers {
		out = append(out, &registry.ServiceEvent{Action: remoting.EventTypeUpdate, Service: providerURL(key, p)})
	}
	return out
}

// providerURL is the provider as dubbo-go's directory wants it: the protocol, address and
// interface path, the TXT parameters, and the SRV weight as the weight (the load balancer
// reads it from there).
func providerURL(key resolver.Key, p resolver.Provider) *common.URL {
	params := url.Values{}
	for k, v := range p.Metadata {
		params.Set(k, v)
	}
	params.Set(constant.InterfaceKey, key.Interface)
	setOrDelete(params, constant.GroupKey, key.Group)
	setOrDelete(params, constant.VersionKey, key.Version)
	params.Set(constant.WeightKey, strconv.Itoa(p.Weight))
	params.Set(constant.SideKey, "provider")
	u := common.NewURLWithOptions(
		common.WithProtocol(p.Protocol),
		common.WithIp(p.Address),
		common.WithPort(strconv.Itoa(p.Port)),
		common.WithPath(key.Interface),
		common.WithParams(params),
	)
	u.Location = net.JoinHostPort(p.Address, strconv.Itoa(p.Port)) // NewURLWithOptions forgets IPv6 brackets
	return u
}

func setOrDelete(v url.Values, key, value string) {
	if value == "" {
		v.Del(key)
		return
	}
	v.Set(key, value)
}

func eventsFingerprint(evs []*registry.ServiceEvent) string {
	keys := make([]string, 0, len(evs))
	for _, e := range evs {
		keys = append(keys, e.Service.String())
	}
	sort.Strings(keys)
	return strings.Join(keys, "\n")
}

func addresses(ps []resolver.Provider) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, net.JoinHostPort(p.Address, strconv.Itoa(p.Port)))
	}
	return out
}

func keyString(k resolver.Key) string {
	s := k.Service().String()
	if k.Protocol != "" {
		s += " (" + k.Protocol + ")"
	}
	return s
}

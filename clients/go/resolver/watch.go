package resolver

import (
	"context"
	"errors"
	"time"
)

// recheckInterval is how often Watch asks again after a recheck request, until the answer
// changes or one refresh period has passed.
const recheckInterval = 200 * time.Millisecond

// Update is what Watch reports.
type Update struct {
	// Providers are the current providers; while Stale, the last known ones.
	Providers []Provider
	// Err wraps ErrNoSuchService when the service does not exist (Providers is empty), or
	// ErrUnavailable while Stale.
	Err error
	// Stale is true while no server answers: nothing is known newer than Providers.
	Stale bool
}

// WatchOption tunes Watch.
type WatchOption func(*watchOptions)

type watchOptions struct {
	recheck <-chan struct{}
}

// RecheckOn makes Watch ask the servers at once, past the cache, whenever ch delivers, and
// then every 200 ms until the providers change or one refresh period has passed. It is
// for news that the answer is about to change, such as a provider announcing that it is
// shutting down: its replacement is then found without waiting out the TTL.
func RecheckOn(ch <-chan struct{}) WatchOption {
	return func(o *watchOptions) { o.recheck = ch }
}

// Watch calls fn with the providers of key once they are first known, again whenever they
// change, and when the servers start or stop failing (Stale), until ctx ends; it returns
// ctx's error. It re-resolves at the answers' TTL, within Config.MinRefresh and MaxRefresh.
// While the servers fail it retries with a doubling backoff up to MaxRefresh and keeps the
// last providers. fn runs on Watch's goroutine: a slow fn delays the next refresh.
func (r *Resolver) Watch(ctx context.Context, key Key, fn func(Update), opts ...WatchOption) error {
	var o watchOptions
	for _, opt := range opts {
		opt(&o)
	}
	var (
		reported   bool
		last       string
		stale      bool
		known      []Provider
		cached     = true
		burstUntil time.Time
		period     = r.cfg.MinRefresh
	)
	backoff := r.cfg.MinRefresh
	for {
		res, err := r.resolve(ctx, key, cached)
		cached = true
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		if (err == nil && !res.Stale) || errors.Is(err, ErrNoSuchService) {
			backoff = r.cfg.MinRefresh
			period = r.clamp(res.TTL)
			wait = r.clamp(res.Expires.Sub(r.now()))
			fp := fingerprint(res.Providers, err != nil)
			if !reported || fp != last || stale {
				if reported && fp != last {
					burstUntil = time.Time{} // the news arrived
				}
				reported, last, stale, known = true, fp, false, res.Providers
				fn(Update{Providers: res.Providers, Err: err})
			}
		} else {
			if err == nil {
				err = res.Err
			}
			wait = backoff
			backoff = min(backoff*2, r.cfg.MaxRefresh)
			if !stale {
				stale = true
				fn(Update{Providers: known, Err: err, Stale: true})
			}
		}
		if r.now().Before(burstUntil) {
			wait, cached = min(wait, recheckInterval), false
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-o.recheck:
			timer.Stop()
			cached = false
			burstUntil = r.now().Add(period)
		case <-timer.C:
		}
	}
}

func (r *Resolver) clamp(d time.Duration) time.Duration {
	return min(max(d, r.cfg.MinRefresh), r.cfg.MaxRefresh)
}

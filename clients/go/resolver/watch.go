package resolver

import (
	"context"
	"errors"
	"time"
)

// Watch calls fn with the providers of key once they are first known and again whenever
// they change, until ctx ends; it returns ctx's error. It re-resolves at the answers' TTL
// (within Config.MinRefresh and MaxRefresh). While the servers fail, fn is not called: the
// last providers stand, and Watch retries with a backoff up to MaxRefresh. A service that
// stops existing is reported once with an error wrapping ErrNoSuchService and no providers.
func (r *Resolver) Watch(ctx context.Context, key Key, fn func(providers []Provider, err error)) error {
	last := ""
	reported := false
	backoff := r.cfg.MinRefresh
	for {
		res, err := r.Resolve(ctx, key)
		wait := backoff
		switch {
		case err == nil && !res.Stale, errors.Is(err, ErrNoSuchService):
			backoff = r.cfg.MinRefresh
			wait = r.clamp(res.Expires.Sub(r.now()))
			fp := fingerprint(res.Providers, err != nil)
			if !reported || fp != last {
				reported, last = true, fp
				fn(res.Providers, err)
			}
		default:
			// Stale or no answer yet: keep what was reported, retry sooner than MaxRefresh.
			backoff = min(backoff*2, r.cfg.MaxRefresh)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

func (r *Resolver) clamp(d time.Duration) time.Duration {
	return min(max(d, r.cfg.MinRefresh), r.cfg.MaxRefresh)
}

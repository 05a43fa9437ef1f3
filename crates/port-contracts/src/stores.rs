//! Contract suites for CaptchaStore, CodeStore, RateLimiter and SessionStore.

"""Operations: metrics, health checks, scheduled jobs, alerts."""

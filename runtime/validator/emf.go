package validator

import (
	"context"
	"log/slog"
	"time"

	"github.com/acme/module-registry/runtime/contract"
)

// Metric names of the CloudWatch Embedded Metric Format block every run's log line
// carries. Each outcome has its own count (0 or 1 per line), so an alarm on
// timeouts or errors is a plain Sum over a period.
const (
	MetricRuns     = "ValidatorRuns"
	MetricDuration = "ValidatorDuration"
	// DimensionService is the one dimension: the deployment, so two registries in one
	// account keep separate metrics.
	DimensionService = contract.MetricDimension
)

// OutcomeMetric is the name of the count metric of outcome o, e.g. ValidatorTimeout.
func OutcomeMetric(o Outcome) string {
	s := string(o)
	if s == "" {
		return "Validator"
	}
	return "Validator" + string(s[0]-'a'+'A') + s[1:]
}

// Metrics says where a run's metrics go in CloudWatch.
type Metrics struct {
	// Namespace of the metrics, e.g. "ACME/Registry".
	Namespace string
	// Service is the value of the Service dimension, e.g. the ECS service name.
	Service string
}

// emfMetric is one entry of a MetricDirective's Metrics list.
type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfDirective is a MetricDirective: which root members are metrics, under which
// namespace and dimensions.
type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

// Log writes one JSON line for r through log: outcome, reason, duration and the
// validator's SHA-256, attrs (the package, the user), and the _aws block that makes
// CloudWatch Logs extract the counts and the duration as metrics from the awslogs
// stream with no agent. Failures log at warn, decisions at info.
func (m Metrics) Log(ctx context.Context, log *slog.Logger, r Result, attrs ...slog.Attr) {
	ms := float64(r.Duration.Microseconds()) / 1000
	metrics := []emfMetric{{Name: MetricRuns, Unit: "Count"}}
	all := []slog.Attr{
		slog.String("validator_outcome", string(r.Outcome)),
		slog.String("validator_reason", r.Reason),
		slog.Float64("validator_duration_ms", ms),
		slog.String("validator_sha256", r.SHA256),
		slog.Bool("sandbox_seccomp", r.Sandbox.Seccomp),
		slog.Int("sandbox_landlock_abi", r.Sandbox.LandlockABI),
	}
	all = append(all, attrs...)
	all = append(all, slog.String(DimensionService, m.Service), slog.Int(MetricRuns, 1))
	for _, o := range Outcomes {
		n := 0
		if o == r.Outcome {
			n = 1
		}
		all = append(all, slog.Int(OutcomeMetric(o), n))
		metrics = append(metrics, emfMetric{Name: OutcomeMetric(o), Unit: "Count"})
	}
	all = append(all, slog.Float64(MetricDuration, ms))
	metrics = append(metrics, emfMetric{Name: MetricDuration, Unit: "Milliseconds"})
	all = append(all, slog.Group("_aws",
		slog.Int64("Timestamp", time.Now().UnixMilli()),
		slog.Any("CloudWatchMetrics", []emfDirective{{
			Namespace:  m.Namespace,
			Dimensions: [][]string{{DimensionService}},
			Metrics:    metrics,
		}}),
	))
	level := slog.LevelInfo
	if r.Outcome != OutcomeAllowed && r.Outcome != OutcomeDenied {
		level = slog.LevelWarn
	}
	log.LogAttrs(ctx, level, "validator run", all...)
}

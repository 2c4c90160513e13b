package fargateservice_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/fargateservice"
	"github.com/acme/module-registry/constructs/internal/synthtest"
)

func TestUlimits(t *testing.T) {
	r, _ := synth(t, nil)
	assert.Nil(t, container(t, r)["ulimits"], "none by default: Fargate's own")
	r, _ = synth(t, func(f fixture, p *fargateservice.Props) {
		p.Ulimits = []fargateservice.Ulimit{{Name: "core", SoftLimit: 0, HardLimit: 0}, {Name: "nproc", SoftLimit: 4096, HardLimit: 4096}}
	})
	c := container(t, r)
	assert.Equal(t, []any{
		map[string]any{"name": "core", "softLimit": 0.0, "hardLimit": 0.0},
		map[string]any{"name": "nproc", "softLimit": 4096.0, "hardLimit": 4096.0},
	}, c["ulimits"])
	assert.Equal(t, true, c["readonlyRootFilesystem"], "the container rules still hold")
	assert.Equal(t, map[string]any{"capabilities": map[string]any{"drop": []any{"ALL"}}}, c["linuxParameters"])
}

func TestMetricAlarms(t *testing.T) {
	topic := "arn:aws:sns:us-east-1:123456789012:ops"
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.AlarmTopicArns = []string{topic}
		p.MetricAlarms = []fargateservice.MetricAlarm{
			{Suffix: "-validator-timeouts", Description: "validators timed out", Namespace: "ACME/Registry", MetricName: "ValidatorTimeout",
				Dimensions: map[string]string{"Service": "acme-registry"}},
			{Suffix: "-validator-errors", Description: "validators failed", Namespace: "ACME/Registry", MetricName: "ValidatorError",
				Threshold: 5, PeriodSeconds: 600},
		}
	})
	alarms := rules(r, "aws_cloudwatch_metric_alarm")
	require.Len(t, alarms, 5)
	to := alarms["Svc_MetricAlarm0"]
	assert.Equal(t, "acme-registry-validator-timeouts", to["alarm_name"])
	assert.Equal(t, "validators timed out", to["alarm_description"])
	assert.Equal(t, "ACME/Registry", to["namespace"])
	assert.Equal(t, "ValidatorTimeout", to["metric_name"])
	assert.Equal(t, "Sum", to["statistic"])
	assert.Equal(t, map[string]any{"Service": "acme-registry"}, to["dimensions"])
	assert.Equal(t, 300.0, to["period"])
	assert.Equal(t, 0.0, to["threshold"])
	assert.Equal(t, "GreaterThanThreshold", to["comparison_operator"])
	assert.Equal(t, "notBreaching", to["treat_missing_data"])
	assert.Equal(t, []any{topic}, to["alarm_actions"])
	errs := alarms["Svc_MetricAlarm1"]
	assert.Equal(t, 5.0, errs["threshold"])
	assert.Equal(t, 600.0, errs["period"])
}

func TestUlimitAndAlarmValidation(t *testing.T) {
	f := newFixture(t)
	p := baseProps(f.key)
	p.Ulimits = []fargateservice.Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}, {Name: "nproc", SoftLimit: 10, HardLimit: 5}, {Name: "nproc"}}
	p.MetricAlarms = []fargateservice.MetricAlarm{
		{Suffix: "-p95-latency", Description: "d", Namespace: "N", MetricName: "M"},
		{Suffix: "Bad", PeriodSeconds: 90, Threshold: -1},
	}
	fargateservice.New(f.stack, "Svc", p)
	errs := strings.Join(synthtest.ValidationErrors(t, f.stack), "\n")
	for _, want := range []string{
		`Ulimits[0].Name: "files" is not one of core, cpu`,
		`Ulimits[1]: needs 0 <= SoftLimit <= HardLimit, got 10 and 5`,
		`Ulimits[2].Name: "nproc" is set twice`,
		`MetricAlarms[0].Suffix: "-p95-latency" names another alarm of the service`,
		`MetricAlarms[1].Suffix: "Bad" must be a hyphen`,
		`MetricAlarms[1].Description: is required`,
		`MetricAlarms[1]: needs Namespace and MetricName`,
		`MetricAlarms[1].PeriodSeconds: must be a positive multiple of 60, got 90`,
		`MetricAlarms[1].Threshold: must not be negative, got -1`,
	} {
		assert.Contains(t, errs, want)
	}
}

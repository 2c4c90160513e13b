package fargateservice_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/module-registry/constructs/fargateservice"
)

func TestScaling(t *testing.T) {
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.DesiredCount, p.MinCapacity, p.MaxCapacity = 3, 2, 6
		p.CPUTargetPercent, p.RequestsPerTarget = 50, 500
	})
	tgt := r.Resource(t, "aws_appautoscaling_target")
	assert.Equal(t, "ecs", tgt["service_namespace"])
	assert.Equal(t, "ecs:service:DesiredCount", tgt["scalable_dimension"])
	assert.Regexp(t, `^service/\$\{aws_ecs_cluster\.[^}]+\.name\}/\$\{aws_ecs_service\.[^}]+\.name\}$`, tgt["resource_id"])
	assert.Equal(t, 2.0, tgt["min_capacity"])
	assert.Equal(t, 6.0, tgt["max_capacity"])
	pols := rules(r, "aws_appautoscaling_policy")
	cpu := pols["Svc_CPUScaling"]["target_tracking_scaling_policy_configuration"].(map[string]any)
	assert.Equal(t, 50.0, cpu["target_value"])
	assert.Equal(t, "ECSServiceAverageCPUUtilization", cpu["predefined_metric_specification"].(map[string]any)["predefined_metric_type"])
	req := pols["Svc_RequestScaling"]["target_tracking_scaling_policy_configuration"].(map[string]any)
	assert.Equal(t, 500.0, req["target_value"])
	spec := req["predefined_metric_specification"].(map[string]any)
	assert.Equal(t, "ALBRequestCountPerTarget", spec["predefined_metric_type"])
	assert.Regexp(t, `^\$\{aws_lb\.[^}]+\.arn_suffix\}/\$\{aws_lb_target_group\.[^}]+\.arn_suffix\}$`, spec["resource_label"])
	assert.Equal(t, "TargetTrackingScaling", pols["Svc_CPUScaling"]["policy_type"])

	r, _ = synth(t, nil)
	tgt = r.Resource(t, "aws_appautoscaling_target")
	assert.Equal(t, 2.0, tgt["min_capacity"], "default min = desired")
	assert.Equal(t, 4.0, tgt["max_capacity"], "default max = 2 * min")
}

func TestAlarms(t *testing.T) {
	topic := "arn:aws:sns:us-east-1:123456789012:ops"
	r, _ := synth(t, func(f fixture, p *fargateservice.Props) {
		p.AlarmTopicArns = []string{topic}
		p.LatencyP95Seconds, p.Error5xxRatePercent, p.MinRunningTasks = 0.5, 2, 1
	})
	alarms := rules(r, "aws_cloudwatch_metric_alarm")
	require.Len(t, alarms, 3)
	lat := alarms["Svc_LatencyAlarm"]
	assert.Equal(t, "acme-registry-p95-latency", lat["alarm_name"])
	assert.Equal(t, "AWS/ApplicationELB", lat["namespace"])
	assert.Equal(t, "TargetResponseTime", lat["metric_name"])
	assert.Equal(t, "p95", lat["extended_statistic"])
	assert.Nil(t, lat["statistic"])
	assert.Equal(t, 0.5, lat["threshold"])
	assert.Equal(t, "GreaterThanThreshold", lat["comparison_operator"])
	assert.Contains(t, lat["dimensions"].(map[string]any)["LoadBalancer"], ".arn_suffix}")

	errs := alarms["Svc_ErrorRateAlarm"]
	assert.Equal(t, 2.0, errs["threshold"])
	byID := map[string]map[string]any{}
	for _, q := range errs["metric_query"].([]any) {
		m := q.(map[string]any)
		byID[m["id"].(string)] = m
	}
	require.Len(t, byID, 4)
	for id, name := range map[string]string{"target5xx": "HTTPCode_Target_5XX_Count", "elb5xx": "HTTPCode_ELB_5XX_Count", "requests": "RequestCount"} {
		m := byID[id]["metric"].(map[string]any)
		assert.Equal(t, name, m["metric_name"])
		assert.Equal(t, "Sum", m["stat"])
		assert.Equal(t, "AWS/ApplicationELB", m["namespace"])
		assert.Equal(t, false, byID[id]["return_data"])
	}
	assert.Equal(t, fargateservice.ErrorRateExpression, byID["errorRate"]["expression"])
	assert.Equal(t, true, byID["errorRate"]["return_data"])

	run := alarms["Svc_RunningTaskAlarm"]
	assert.Equal(t, "ECS/ContainerInsights", run["namespace"])
	assert.Equal(t, "RunningTaskCount", run["metric_name"])
	assert.Equal(t, "LessThanThreshold", run["comparison_operator"])
	assert.Equal(t, 1.0, run["threshold"])
	assert.Equal(t, "breaching", run["treat_missing_data"])
	dims := run["dimensions"].(map[string]any)
	assert.Contains(t, dims["ClusterName"], "aws_ecs_cluster.")
	assert.Contains(t, dims["ServiceName"], "aws_ecs_service.")
	for name, a := range alarms {
		assert.Equal(t, []any{topic}, a["alarm_actions"], name)
		assert.Equal(t, []any{topic}, a["ok_actions"], name)
	}

	r, _ = synth(t, nil)
	alarms = rules(r, "aws_cloudwatch_metric_alarm")
	assert.Equal(t, 1.0, alarms["Svc_LatencyAlarm"]["threshold"])
	assert.Equal(t, 5.0, alarms["Svc_ErrorRateAlarm"]["threshold"])
	assert.Equal(t, 2.0, alarms["Svc_RunningTaskAlarm"]["threshold"], "default: below the desired count")
	assert.Nil(t, alarms["Svc_LatencyAlarm"]["alarm_actions"])
}

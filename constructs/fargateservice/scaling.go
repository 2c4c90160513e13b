package fargateservice

import (
	"fmt"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/appautoscalingpolicy"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/appautoscalingtarget"
	"github.com/cdktf/cdktf-provider-aws-go/aws/v19/cloudwatchmetricalarm"
)

// scalingResourceID is Application Auto Scaling's id of the service.
func (s *Service) scalingResourceID() string {
	return "service/" + *s.cluster.Name() + "/" + *s.service.Name()
}

func (s *Service) createScaling() {
	p := s.props
	s.scaling = appautoscalingtarget.NewAppautoscalingTarget(s, jsii.String("ScalingTarget"), &appautoscalingtarget.AppautoscalingTargetConfig{
		ServiceNamespace:  jsii.String("ecs"),
		ResourceId:        jsii.String(s.scalingResourceID()),
		ScalableDimension: jsii.String("ecs:service:DesiredCount"),
		MinCapacity:       jsii.Number(float64(p.MinCapacity)),
		MaxCapacity:       jsii.Number(float64(p.MaxCapacity)),
	})
	policy := func(id, suffix string, target float64, spec *appautoscalingpolicy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification) {
		appautoscalingpolicy.NewAppautoscalingPolicy(s, jsii.String(id), &appautoscalingpolicy.AppautoscalingPolicyConfig{
			Name:              jsii.String(p.Name + suffix),
			PolicyType:        jsii.String("TargetTrackingScaling"),
			ServiceNamespace:  s.scaling.ServiceNamespace(),
			ResourceId:        s.scaling.ResourceId(),
			ScalableDimension: s.scaling.ScalableDimension(),
			TargetTrackingScalingPolicyConfiguration: &appautoscalingpolicy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration{
				TargetValue:                   jsii.Number(target),
				PredefinedMetricSpecification: spec,
				ScaleInCooldown:               jsii.Number(300),
				ScaleOutCooldown:              jsii.Number(60),
			},
		})
	}
	policy("CPUScaling", CPUScalingSuffix, p.CPUTargetPercent,
		&appautoscalingpolicy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification{
			PredefinedMetricType: jsii.String("ECSServiceAverageCPUUtilization"),
		})
	policy("RequestScaling", RequestScalingSuffix, p.RequestsPerTarget,
		&appautoscalingpolicy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification{
			PredefinedMetricType: jsii.String("ALBRequestCountPerTarget"),
			ResourceLabel:        jsii.String(*s.alb.ArnSuffix() + "/" + *s.targetGroup.ArnSuffix()),
		})
}

func (s *Service) createAlarms() {
	p := s.props
	lbDim := &map[string]*string{"LoadBalancer": s.alb.ArnSuffix()}
	s.alarm("LatencyAlarm", LatencyAlarmSuffix, fmt.Sprintf("p95 target response time of %s above %gs", p.Name, p.LatencyP95Seconds), &cloudwatchmetricalarm.CloudwatchMetricAlarmConfig{
		Namespace:          jsii.String("AWS/ApplicationELB"),
		MetricName:         jsii.String("TargetResponseTime"),
		ExtendedStatistic:  jsii.String("p95"),
		Dimensions:         lbDim,
		Period:             jsii.Number(60),
		EvaluationPeriods:  jsii.Number(5),
		DatapointsToAlarm:  jsii.Number(3),
		Threshold:          jsii.Number(p.LatencyP95Seconds),
		ComparisonOperator: jsii.String("GreaterThanThreshold"),
		TreatMissingData:   jsii.String("notBreaching"),
	})
	metric := func(id, name string) *cloudwatchmetricalarm.CloudwatchMetricAlarmMetricQuery {
		return &cloudwatchmetricalarm.CloudwatchMetricAlarmMetricQuery{
			Id: jsii.String(id),
			Metric: &cloudwatchmetricalarm.CloudwatchMetricAlarmMetricQueryMetric{
				Namespace: jsii.String("AWS/ApplicationELB"), MetricName: jsii.String(name),
				Dimensions: lbDim, Stat: jsii.String("Sum"), Period: jsii.Number(60),
			},
			ReturnData: jsii.Bool(false),
		}
	}
	s.alarm("ErrorRateAlarm", ErrorRateAlarmSuffix, fmt.Sprintf("5xx responses of %s above %g%% of requests", p.Name, p.Error5xxRatePercent), &cloudwatchmetricalarm.CloudwatchMetricAlarmConfig{
		MetricQuery: []*cloudwatchmetricalarm.CloudwatchMetricAlarmMetricQuery{
			metric("target5xx", "HTTPCode_Target_5XX_Count"),
			metric("elb5xx", "HTTPCode_ELB_5XX_Count"),
			metric("requests", "RequestCount"),
			{
				Id:         jsii.String("errorRate"),
				Label:      jsii.String("5xx rate (%)"),
				Expression: jsii.String(ErrorRateExpression),
				ReturnData: jsii.Bool(true),
			},
		},
		EvaluationPeriods:  jsii.Number(5),
		DatapointsToAlarm:  jsii.Number(3),
		Threshold:          jsii.Number(p.Error5xxRatePercent),
		ComparisonOperator: jsii.String("GreaterThanThreshold"),
		TreatMissingData:   jsii.String("notBreaching"),
	})
	s.alarm("RunningTaskAlarm", RunningTaskAlarmSuffix, fmt.Sprintf("fewer than %d tasks of %s running", p.MinRunningTasks, p.Name), &cloudwatchmetricalarm.CloudwatchMetricAlarmConfig{
		Namespace:  jsii.String("ECS/ContainerInsights"),
		MetricName: jsii.String("RunningTaskCount"),
		Statistic:  jsii.String("Minimum"),
		Dimensions: &map[string]*string{
			"ClusterName": s.cluster.Name(),
			"ServiceName": s.service.Name(),
		},
		Period:             jsii.Number(60),
		EvaluationPeriods:  jsii.Number(3),
		Threshold:          jsii.Number(float64(p.MinRunningTasks)),
		ComparisonOperator: jsii.String("LessThanThreshold"),
		// No data from Container Insights means no tasks reporting.
		TreatMissingData: jsii.String("breaching"),
	})
	for i, a := range p.MetricAlarms {
		period := a.PeriodSeconds
		if period == 0 {
			period = 300
		}
		dims := map[string]*string{}
		for k, v := range a.Dimensions {
			dims[k] = jsii.String(v)
		}
		s.alarm(fmt.Sprintf("MetricAlarm%d", i), a.Suffix, a.Description, &cloudwatchmetricalarm.CloudwatchMetricAlarmConfig{
			Namespace:          jsii.String(a.Namespace),
			MetricName:         jsii.String(a.MetricName),
			Statistic:          jsii.String("Sum"),
			Dimensions:         &dims,
			Period:             jsii.Number(float64(period)),
			EvaluationPeriods:  jsii.Number(1),
			Threshold:          jsii.Number(a.Threshold),
			ComparisonOperator: jsii.String("GreaterThanThreshold"),
			// No data: nothing happened that the metric counts.
			TreatMissingData: jsii.String("notBreaching"),
		})
	}
}

// ErrorRateExpression is the 5xx alarm's metric math: target and load-balancer 5xx
// responses as a percentage of requests (0 when there are no requests).
const ErrorRateExpression = "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"

// alarm creates the alarm "<Name><suffix>" from cfg, notifying AlarmTopicArns when it
// fires and when it recovers.
func (s *Service) alarm(id, suffix, description string, cfg *cloudwatchmetricalarm.CloudwatchMetricAlarmConfig) {
	cfg.AlarmName = jsii.String(s.props.Name + suffix)
	cfg.AlarmDescription = jsii.String(description)
	if len(s.props.AlarmTopicArns) > 0 {
		cfg.AlarmActions = jsii.Strings(s.props.AlarmTopicArns...)
		cfg.OkActions = jsii.Strings(s.props.AlarmTopicArns...)
	}
	s.alarms[suffix] = cloudwatchmetricalarm.NewCloudwatchMetricAlarm(s, jsii.String(id), cfg)
}

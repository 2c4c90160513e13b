package fargateservice

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/acme/module-registry/constructs/internal/validation"
)

// RetentionDays are the values CloudWatch Logs accepts for a log group's retention.
var RetentionDays = validation.LogRetentionDays

// FargateMemoryMiB lists, per CPU value, the memory sizes Fargate accepts.
var FargateMemoryMiB = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, step int) []int {
	var out []int
	for v := from; v <= to; v += step {
		out = append(out, v)
	}
	return out
}

var (
	namePattern        = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,26}[a-z0-9])?$`)
	servicePattern     = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*$`)
	certArnPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:[0-9]{12}:(certificate|server-certificate)/.+$`)
	topicArnPattern    = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
	vpcIDPattern       = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	subnetIDPattern    = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	userPattern        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)
	sslPolicyPattern   = regexp.MustCompile(`^ELBSecurityPolicy-TLS13-1-[23]-`)
	headerPattern      = regexp.MustCompile(`^[a-z0-9!#$%&'*+.^_|~-]{1,64}$`)
	alarmSuffixPattern = regexp.MustCompile(`^-[a-z0-9-]{1,64}$`)
)

// checkProps records one violation per invalid prop. Resource references (tokens) are
// left for Terraform and AWS to check.
func (s *Service) checkProps() {
	p, e := s.props, &s.errs
	if !namePattern.MatchString(p.Name) {
		e.Addf("Name", "%q must be 1-28 lowercase letters, digits and hyphens, starting and ending with a letter or digit (it names the load balancer, whose limit is 32 with the \"-tg\" suffix of the target group)", p.Name)
	}
	if p.Image == nil {
		e.Addf("Image", "is required: the container image, pinned by digest")
	} else if uri := p.Image.ImageURI(); uri == nil {
		e.Addf("Image", "ImageURI() is nil")
	} else if !validation.IsToken(*uri) {
		if err := ValidateImageURI(*uri); err != nil {
			e.Addf("Image", "ImageURI() %v", err)
		}
	}
	if p.EncryptionKey == nil {
		e.Addf("EncryptionKey", "is required: the container log group is encrypted with the project key, whose policy the service extends")
	}
	e.CheckRemovalPolicy(p.RemovalPolicy)
	s.checkNetwork(e)
	s.checkListeners(e)
	s.checkContainer(e)
	s.checkScaling(e)
}

func (s *Service) checkNetwork(e *validation.Errors) {
	p := s.props
	if v := p.ExistingVpc; v != nil {
		if !validation.IsToken(v.VpcID) && !vpcIDPattern.MatchString(v.VpcID) {
			e.Addf("ExistingVpc.VpcID", "%q is not a VPC id (vpc-...)", v.VpcID)
		}
		checkSubnets(e, "ExistingVpc.PrivateSubnetIDs", v.PrivateSubnetIDs, true)
		checkSubnets(e, "ExistingVpc.PublicSubnetIDs", v.PublicSubnetIDs, p.InternetFacing)
		for i, c := range v.TaskEgressCidrs {
			checkCidr(e, fmt.Sprintf("ExistingVpc.TaskEgressCidrs[%d]", i), c)
		}
		if p.VpcCidr != DefaultVpcCidr || len(p.AvailabilityZones) > 0 || len(p.ExtraInterfaceEndpointServices) > 0 {
			e.Addf("ExistingVpc", "is set, so VpcCidr, AvailabilityZones and ExtraInterfaceEndpointServices (which shape a new VPC) must not be")
		}
	} else {
		if _, _, err := SubnetCidrs(p.VpcCidr); err != nil {
			e.Addf("VpcCidr", "%v", err)
		}
		if n := len(p.AvailabilityZones); n != 0 && n != 2 {
			e.Addf("AvailabilityZones", "must name exactly two zones (or none for the region's first two), got %d", n)
		} else if n == 2 && p.AvailabilityZones[0] == p.AvailabilityZones[1] {
			e.Addf("AvailabilityZones", "must be two different zones, got %q twice", p.AvailabilityZones[0])
		}
		for i, svc := range p.ExtraInterfaceEndpointServices {
			if !validExtraEndpoint(svc) {
				e.Addf(fmt.Sprintf("ExtraInterfaceEndpointServices[%d]", i), "%q must be a service endpoint name like \"kms\" or \"sts\", not one the VPC already has (%s, s3, dynamodb)",
					svc, strings.Join(DefaultInterfaceEndpointServices, ", "))
			}
		}
	}
	if len(p.IngressCidrs) == 0 {
		e.Addf("IngressCidrs", "is required: name the ranges that may reach the load balancer (\"0.0.0.0/0\" for a public service)")
	}
	for i, c := range p.IngressCidrs {
		checkCidr(e, fmt.Sprintf("IngressCidrs[%d]", i), c)
	}
}

func checkSubnets(e *validation.Errors, prop string, ids []string, required bool) {
	if required && len(ids) < 2 {
		e.Addf(prop, "needs at least two subnets in different availability zones, got %d", len(ids))
	}
	for i, id := range ids {
		if !validation.IsToken(id) && !subnetIDPattern.MatchString(id) {
			e.Addf(fmt.Sprintf("%s[%d]", prop, i), "%q is not a subnet id (subnet-...)", id)
		}
	}
}

func checkCidr(e *validation.Errors, prop, cidr string) {
	if validation.IsToken(cidr) {
		return
	}
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || pfx.Masked() != pfx {
		e.Addf(prop, "%q is not a network in CIDR notation (like 203.0.113.0/24 or 0.0.0.0/0)", cidr)
	}
}

func (s *Service) checkListeners(e *validation.Errors) {
	p := s.props
	switch {
	case p.CertificateArn == "" && !p.AllowPlainHTTP:
		e.Addf("CertificateArn", "is required for the HTTPS listener; set AllowPlainHTTP instead only for a local or test stack")
	case p.CertificateArn != "" && p.AllowPlainHTTP:
		e.Addf("AllowPlainHTTP", "must not be set with CertificateArn: with a certificate, port 80 only redirects to HTTPS")
	case p.CertificateArn != "" && !validation.IsToken(p.CertificateArn) && !certArnPattern.MatchString(p.CertificateArn):
		e.Addf("CertificateArn", "%q is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)", p.CertificateArn)
	}
	if !sslPolicyPattern.MatchString(p.SslPolicy) {
		e.Addf("SslPolicy", "%q must be a TLS 1.3 ELBSecurityPolicy (ELBSecurityPolicy-TLS13-1-2-... or -1-3-..., the ones Security Hub recommends; e.g. %s)", p.SslPolicy, DefaultSslPolicy)
	}
}

func (s *Service) checkContainer(e *validation.Errors) {
	p := s.props
	if !namePattern.MatchString(p.ContainerName) {
		e.Addf("ContainerName", "%q must be lowercase letters, digits and hyphens", p.ContainerName)
	}
	if p.ContainerPort < 1 || p.ContainerPort > 65535 {
		e.Addf("ContainerPort", "must be 1-65535, got %d", p.ContainerPort)
	}
	user, _, _ := strings.Cut(p.User, ":")
	switch {
	case !userPattern.MatchString(p.User):
		e.Addf("User", "%q must be \"uid\", \"uid:gid\", \"user\" or \"user:group\"", p.User)
	case user == "0" || user == "root":
		e.Addf("User", "%q runs the container as root; use a non-root user such as %q", p.User, DefaultUser)
	}
	if mem, ok := FargateMemoryMiB[p.CPU]; !ok {
		e.Addf("CPU", "%d is not a Fargate CPU value; use one of 256, 512, 1024, 2048, 4096, 8192, 16384", p.CPU)
	} else if !slices.Contains(mem, p.MemoryMiB) {
		e.Addf("MemoryMiB", "%d MiB is not valid with CPU %d on Fargate; use %d-%d in steps of %d",
			p.MemoryMiB, p.CPU, mem[0], mem[len(mem)-1], stepOf(p.CPU, mem))
	}
	if p.CPUArchitecture != "X86_64" && p.CPUArchitecture != "ARM64" {
		e.Addf("CPUArchitecture", "%q must be X86_64 or ARM64", p.CPUArchitecture)
	}
	if len(p.HealthCheckCommand) < 2 || (p.HealthCheckCommand[0] != "CMD" && p.HealthCheckCommand[0] != "CMD-SHELL") {
		e.Addf("HealthCheckCommand", "is required: [\"CMD\", <executable>, <args>...] (or [\"CMD-SHELL\", <command>] when the image has a shell), got %q", p.HealthCheckCommand)
	}
	if !strings.HasPrefix(p.HealthCheckPath, "/") || len(p.HealthCheckPath) > 1024 {
		e.Addf("HealthCheckPath", "%q must be a path starting with /", p.HealthCheckPath)
	}
	seen := map[string]string{}
	for k := range p.Environment {
		if !validation.IsEnvVarName(k) {
			e.Addf("Environment", "%q is not a valid variable name (letters, digits, _; not starting with a digit)", k)
		}
		seen[k] = "Environment"
	}
	for i, cs := range p.Secrets {
		prop := fmt.Sprintf("Secrets[%d]", i)
		if !validation.IsEnvVarName(cs.EnvName) {
			e.Addf(prop+".EnvName", "%q is not a valid variable name (letters, digits, _; not starting with a digit)", cs.EnvName)
		} else if where, dup := seen[cs.EnvName]; dup {
			e.Addf(prop+".EnvName", "%q is already set by %s", cs.EnvName, where)
		}
		seen[cs.EnvName] = prop
		if cs.Secret == nil {
			e.Addf(prop+".Secret", "is required")
		}
		if strings.Contains(cs.JSONKey, ":") {
			e.Addf(prop+".JSONKey", "%q must not contain ':' (it separates the parts of valueFrom)", cs.JSONKey)
		}
	}
	seenUlimit := map[string]bool{}
	for i, u := range p.Ulimits {
		prop := fmt.Sprintf("Ulimits[%d]", i)
		switch {
		case !slices.Contains(UlimitNames, u.Name):
			e.Addf(prop+".Name", "%q is not one of %s", u.Name, strings.Join(UlimitNames, ", "))
		case seenUlimit[u.Name]:
			e.Addf(prop+".Name", "%q is set twice", u.Name)
		}
		seenUlimit[u.Name] = true
		if u.SoftLimit < 0 || u.HardLimit < u.SoftLimit {
			e.Addf(prop, "needs 0 <= SoftLimit <= HardLimit, got %d and %d", u.SoftLimit, u.HardLimit)
		}
	}
	seenAlarm := map[string]bool{LatencyAlarmSuffix: true, ErrorRateAlarmSuffix: true, RunningTaskAlarmSuffix: true}
	for i, a := range p.MetricAlarms {
		prop := fmt.Sprintf("MetricAlarms[%d]", i)
		switch {
		case !alarmSuffixPattern.MatchString(a.Suffix):
			e.Addf(prop+".Suffix", "%q must be a hyphen followed by 1-64 lowercase letters, digits and hyphens", a.Suffix)
		case seenAlarm[a.Suffix]:
			e.Addf(prop+".Suffix", "%q names another alarm of the service", a.Suffix)
		}
		seenAlarm[a.Suffix] = true
		if a.Description == "" {
			e.Addf(prop+".Description", "is required: say what firing means")
		}
		if a.Namespace == "" || a.MetricName == "" {
			e.Addf(prop, "needs Namespace and MetricName")
		}
		if a.PeriodSeconds < 0 || a.PeriodSeconds%60 != 0 {
			e.Addf(prop+".PeriodSeconds", "must be a positive multiple of 60, got %d", a.PeriodSeconds)
		}
		if a.Threshold < 0 {
			e.Addf(prop+".Threshold", "must not be negative, got %g", a.Threshold)
		}
	}
	e.CheckLogRetention("LogRetentionDays", p.LogRetentionDays)
	for i, h := range p.RedactedLogHeaders {
		if !headerPattern.MatchString(h) {
			e.Addf(fmt.Sprintf("RedactedLogHeaders[%d]", i), "%q must be a lowercase header name of 1-64 characters", h)
		}
	}
}

func stepOf(cpu int, mem []int) int {
	if cpu == 256 {
		return 512 // 512, 1024, 2048: listed rather than stepped
	}
	return mem[1] - mem[0]
}

func (s *Service) checkScaling(e *validation.Errors) {
	p, given := s.props, s.given
	// Defaults derive from DesiredCount and MinCapacity; a derived value is only checked
	// when what it derives from is valid.
	if p.DesiredCount < 1 {
		e.Addf("DesiredCount", "must be at least 1, got %d", p.DesiredCount)
	}
	minOK := p.MinCapacity >= 1
	if !minOK && (given.MinCapacity != 0 || p.DesiredCount >= 1) {
		e.Addf("MinCapacity", "must be at least 1, got %d", p.MinCapacity)
	}
	if minOK {
		switch {
		case p.MaxCapacity < p.MinCapacity:
			e.Addf("MaxCapacity", "%d is below MinCapacity %d", p.MaxCapacity, p.MinCapacity)
		case p.DesiredCount >= 1 && (p.DesiredCount < p.MinCapacity || p.DesiredCount > p.MaxCapacity):
			e.Addf("DesiredCount", "%d must be between MinCapacity %d and MaxCapacity %d", p.DesiredCount, p.MinCapacity, p.MaxCapacity)
		}
	}
	if p.MinRunningTasks < 1 && (given.MinRunningTasks != 0 || minOK) {
		e.Addf("MinRunningTasks", "must be at least 1, got %d", p.MinRunningTasks)
	}
	if p.CPUTargetPercent <= 0 || p.CPUTargetPercent > 100 {
		e.Addf("CPUTargetPercent", "must be in (0, 100], got %g", p.CPUTargetPercent)
	}
	if p.RequestsPerTarget <= 0 {
		e.Addf("RequestsPerTarget", "must be positive, got %g", p.RequestsPerTarget)
	}
	if p.LatencyP95Seconds <= 0 {
		e.Addf("LatencyP95Seconds", "must be positive, got %g", p.LatencyP95Seconds)
	}
	if p.Error5xxRatePercent <= 0 || p.Error5xxRatePercent > 100 {
		e.Addf("Error5xxRatePercent", "must be in (0, 100], got %g", p.Error5xxRatePercent)
	}
	for i, arn := range p.AlarmTopicArns {
		if !validation.IsToken(arn) && !topicArnPattern.MatchString(arn) {
			e.Addf(fmt.Sprintf("AlarmTopicArns[%d]", i), "%q is not an SNS topic ARN", arn)
		}
	}
	if p.RateLimitPer5Minutes < 10 || p.RateLimitPer5Minutes > 2_000_000_000 {
		e.Addf("RateLimitPer5Minutes", "must be between 10 and 2000000000, got %d", p.RateLimitPer5Minutes)
	}
}

func validExtraEndpoint(svc string) bool {
	return servicePattern.MatchString(svc) && !slices.Contains(DefaultInterfaceEndpointServices, svc) && svc != "s3" && svc != "dynamodb"
}

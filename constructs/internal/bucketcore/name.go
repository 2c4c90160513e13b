package bucketcore

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

var bucketNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidateBucketName checks name against S3's general purpose bucket naming rules and
// says which rule is broken.
func ValidateBucketName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("bucket name is empty")
	case len(name) < 3 || len(name) > 63:
		return fmt.Errorf("bucket name %q must be 3-63 characters long, got %d", name, len(name))
	case !bucketNamePattern.MatchString(name):
		return fmt.Errorf("bucket name %q may hold only lowercase letters, digits, dots and hyphens, and must begin and end with a letter or digit", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("bucket name %q must not contain two adjacent dots", name)
	case net.ParseIP(name) != nil:
		return fmt.Errorf("bucket name %q must not be formatted as an IP address", name)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fmt.Errorf("bucket name %q must not start with the reserved prefix %q", name, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fmt.Errorf("bucket name %q must not end with the reserved suffix %q", name, s)
		}
	}
	return nil
}

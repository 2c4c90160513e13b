// Package moduleaddr maps Terraform module registry addresses to the registry's
// package names, so that publishing a module version is an ordinary package upload
// (same permissions, audit and checks) and `terraform init` finds it again.
//
// A module `<host>/<namespace>/<name>/<system>` at version V is the package
// `tfmodule.<namespace>.<name>.<system>` at version V, lowercased:
//
//	acme/vpc/aws 1.2.0  ->  package tfmodule.acme.vpc.aws, version 1.2.0
//
// The dot cannot occur in any of the three parts, so the mapping is one to one.
// The package holds the module as a gzipped tar archive.
package moduleaddr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// PackagePrefix starts the package name of every module.
const PackagePrefix = "tfmodule."

// MaxPackageNameLen is the registry's limit on package names, which bounds the
// combined length of a module address.
const MaxPackageNameLen = 128

// Terraform's own rules for the parts of a registry module address.
var (
	partRE    = regexp.MustCompile(`^[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?$`)
	systemRE  = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)
	versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
		`(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?` +
		`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)
)

// Address is a module's registry address without the host.
type Address struct {
	Namespace, Name, System string
}

// String is the address as Terraform writes it after the host: namespace/name/system.
func (a Address) String() string { return a.Namespace + "/" + a.Name + "/" + a.System }

// New validates the three parts and returns the address, lowercased.
func New(namespace, name, system string) (Address, error) {
	a := Address{strings.ToLower(namespace), strings.ToLower(name), strings.ToLower(system)}
	var errs []error
	if !partRE.MatchString(a.Namespace) {
		errs = append(errs, fmt.Errorf("namespace %q must be 1-64 letters, digits, \"-\" or \"_\", starting and ending with a letter or digit", namespace))
	}
	if !partRE.MatchString(a.Name) {
		errs = append(errs, fmt.Errorf("module name %q must be 1-64 letters, digits, \"-\" or \"_\", starting and ending with a letter or digit", name))
	}
	if !systemRE.MatchString(a.System) {
		errs = append(errs, fmt.Errorf("target system %q must be 1-64 letters or digits (such as aws or azurerm)", system))
	}
	if len(errs) == 0 && len(a.PackageName()) > MaxPackageNameLen {
		errs = append(errs, fmt.Errorf("module address %s is too long: its package name %s exceeds %d characters", a, a.PackageName(), MaxPackageNameLen))
	}
	return a, errors.Join(errs...)
}

// Parse reads "namespace/name/system" (a leading host, as in a module source, is
// refused: the host is where the registry runs, not part of the package name).
func Parse(s string) (Address, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return Address{}, fmt.Errorf("module address %q must be namespace/name/system, such as acme/vpc/aws", s)
	}
	return New(parts[0], parts[1], parts[2])
}

// PackageName is the registry package that holds the module's versions.
func (a Address) PackageName() string {
	return PackagePrefix + a.Namespace + "." + a.Name + "." + a.System
}

// ValidVersion reports whether v is a semantic version (MAJOR.MINOR.PATCH, with
// optional -prerelease and +build), the only versions Terraform can select by a
// constraint. Package versions that are not are not offered as module versions.
func ValidVersion(v string) bool { return len(v) <= 64 && versionRE.MatchString(v) }

// CheckVersion is ValidVersion with an error that says what is expected.
func CheckVersion(v string) error {
	if !ValidVersion(v) {
		return fmt.Errorf("module version %q is not a semantic version such as 1.2.0 or 2.0.0-rc.1 (no leading v)", v)
	}
	return nil
}

//go:build !linux

package validator

import (
	"errors"
	"os"
	"syscall"
)

// sandboxSupported: only Linux has the rlimits, seccomp and Landlock the sandbox is
// built on; elsewhere every run fails closed.
const sandboxSupported = false

func confine(limits, bool) (Sandbox, []Probe, error) {
	return Sandbox{}, nil, errors.New("the validator sandbox needs Linux")
}

func childAttr() *syscall.SysProcAttr { return nil }

func killGroup(int) {}

func peakRSS(*os.ProcessState) int64 { return 0 }

// Package proc aliases chainguard-dev/kaniko/pkg/util/proc.
package proc

import ck "github.com/chainguard-dev/kaniko/pkg/util/proc"

type ContainerRuntime = ck.ContainerRuntime

const RuntimeNotFound = ck.RuntimeNotFound

func GetContainerRuntime(tgid, pid int) ContainerRuntime { return ck.GetContainerRuntime(tgid, pid) }

// Package util aliases chainguard-dev/kaniko/pkg/util.
package util

import ck "github.com/chainguard-dev/kaniko/pkg/util"

type IgnoreListEntry = ck.IgnoreListEntry

func AddToDefaultIgnoreList(entry IgnoreListEntry) { ck.AddToDefaultIgnoreList(entry) }

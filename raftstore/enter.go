package raftstore

import "context"

// Enter brings a member opened outside RunMember into its cluster as
// RunMember does: it bootstraps or joins unless the member has state on
// disk. A restarted member's record is refreshed by RefreshRecord.
func Enter(ctx context.Context, n *Node, cfg MemberConfig) error { return enter(ctx, n, cfg) }

// RefreshRecord makes the cluster's record of a restarted member match
// the addresses it now serves at; it returns once it does or ctx ends.
func RefreshRecord(ctx context.Context, n *Node, cfg MemberConfig) { refreshRecord(ctx, n, cfg) }

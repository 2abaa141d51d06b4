# The writer authority in Route 53 ARC routing controls, with a cluster drgen creates. The DR side
# takes the authority in ARC before it promotes and then waits the lease, so that a primary cut
# off by a full inter-region partition has fenced itself first; that wait is why the recovery
# target here is higher than the default 120 s (`drgen explain` prints both paths).
#
# To share an existing cluster (billed by the hour, it can serve many applications), set
# cluster_arn and the five endpoints its DescribeCluster lists:
#
#   arc {
#     cluster_arn       = "arn:aws:route53-recovery-control::123456789012:cluster/0a1b2c3d-4e5f"
#     cluster_endpoints = [
#       { endpoint = "https://host-aaaaaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1", region = "us-east-1" },
#       ...
#     ]
#   }
rto_target_seconds = 480

failover {
  authority = "arc"

  arc {
    lease_seconds = 30
  }
}

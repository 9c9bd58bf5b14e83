"""DR drills: rehearse a regional failover and measure RTO/RPO from the data plane."""

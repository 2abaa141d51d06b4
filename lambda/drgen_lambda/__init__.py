"""drgen's failover functions: connectivity observers and the DR-region monitor/promoter."""

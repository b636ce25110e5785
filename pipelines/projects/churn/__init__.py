"""The churn classification project: synthetic telco customers, snapshots and labels."""

"""A merchant's staff: accounts and roles, sign-in with its throttle and second factor, sessions, the audit log."""

"""Machines: inventory, utilisation, prices, recommendations, approvals, policies, actions, forecasts."""

"""The affiliate program: referral links, who referred whom, commissions into affiliate wallets and moving them."""

"""affnet plugin: Stripe webhooks reported as sales, rebills, refunds, chargebacks and trials."""

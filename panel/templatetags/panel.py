"""The panel's template filters: money, rates, percentages and durations in the reader's language (panel.formatting)."""

from django import template

from panel.formatting import amount, duration, money, percent

register = template.Library()
register.filter("amount", amount)
register.filter("money", money)
register.filter("duration", duration)
register.filter("percent", percent)

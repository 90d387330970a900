"""Channels deliver a message: webhook (signed HTTP), e-mail (SMTP), inbox (a row)."""

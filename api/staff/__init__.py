"""The staff REST API (`/api/staff/v1/`): DRF viewsets over the admin's own querysets and services, for staff
tokens only, with the admin's model permissions, and its OpenAPI 3 schema and docs."""

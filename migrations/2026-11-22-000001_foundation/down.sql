DROP TABLE audit_events;
DROP TABLE idempotency_keys;
DROP TABLE clients;
DROP TABLE api_clients;
DROP TABLE practices;

DROP INDEX events_client_idx;
DROP TABLE export_chunks;
DROP TABLE export_files;
DROP TABLE exports;

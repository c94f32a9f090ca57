DROP TABLE homework_logs;
DROP TABLE homework_pauses;
DROP TABLE homework;

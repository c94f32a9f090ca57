DROP TABLE assessment_scores;
DROP TABLE assessments;
DROP TABLE instruments;

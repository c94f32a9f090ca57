DROP TABLE assessment_drafts;
DROP TABLE client_link_submissions;
DROP TABLE client_links;

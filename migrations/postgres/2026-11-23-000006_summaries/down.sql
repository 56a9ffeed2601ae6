DROP TABLE commune_summaries;

DROP TABLE exemptions;
DROP TABLE province_settings;
DROP TABLE holidays;
DROP TABLE postings;

"""Import of customers, contacts and leads from CSV and XLSX; export of lists."""

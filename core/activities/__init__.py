"""Activities (calls, meetings, visits, notes, emails, tasks), task reminders and the customer
timeline."""

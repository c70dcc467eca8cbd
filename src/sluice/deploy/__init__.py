"""Deploys: plan, write-audit-publish, promotion, rollback and recovery."""

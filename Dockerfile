# One image for web, worker and beat (docker-compose.yml). Runs as an unprivileged user.
FROM python:3.11.10-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# Only what runs, listed: never var/ (a developer's secret key or database), .env or .venv.
COPY manage.py ./
COPY config config
COPY tracker tracker
COPY templates templates
COPY static static
COPY fixtures fixtures
# The manifest the production storage reads is built here. A throwaway SECRET_KEY keeps the
# settings from generating one into the image.
RUN SECRET_KEY=collectstatic-only-never-used python manage.py collectstatic --noinput --verbosity 0 \
    && groupadd --system --gid 10001 jalon \
    && useradd --system --uid 10001 --gid jalon --home-dir /app --no-create-home jalon \
    && mkdir -p /app/var/media /app/secrets \
    && chown -R jalon:jalon /app/var /app/secrets
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]

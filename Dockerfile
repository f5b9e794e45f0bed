# askdocs for fly.io (or any container host). Front-end assets are built in a Node stage, so the image serves
# everything itself and the widget makes no requests to third-party hosts.
FROM node:20-slim AS assets
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY frontend/ ./
COPY main.py /app/main.py
COPY static/chat.js /app/static/chat.js
RUN npm run build

FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
COPY --from=assets /app/static/ /app/static/
ENV ASKDOCS_DATA=/data HOST=0.0.0.0 PORT=8080 FORWARDED_ALLOW_IPS=* WEB_CONCURRENCY=1 PYTHONUNBUFFERED=1
EXPOSE 8080
# --proxy-headers with FORWARDED_ALLOW_IPS: behind fly's TLS proxy the scheme is https, not http.
# --timeout-graceful-shutdown: open answer streams would otherwise hold a deploy forever.
CMD ["sh", "-c", "exec python -m uvicorn main:app --host 0.0.0.0 --port $PORT --proxy-headers --timeout-graceful-shutdown 10"]
